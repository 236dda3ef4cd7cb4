// A route rule's sessionPersistence (Gateway API GEP-1619, experimental channel): v1.6's shape
// (sessionName, idleTimeout, cookieConfig) and the next release's on Gateway API's main branch
// (cookie: {name, path, lifetimeType}, header: {name}).
#include <algorithm>

#include "agent/model/decode.h"

namespace xgate::model {
namespace {

// The cookie's or header's name, from `key` of `node`; set once.
void DecodeName(const Node& node, const std::string& key, SessionPersistence& out) {
  auto name = node.OptStr(key);
  if (!name) return;
  CheckLength(node.PathOf(key), *name, 128);
  // The CRD bounds only the length; the name goes on the wire as a cookie or header name.
  CheckHeaderName(node.PathOf(key), *name);
  if (out.session_name) {
    node.FailAt(key, "Invalid value: sessionName and " + key + " name the session both: set one");
  }
  out.session_name = std::move(name);
}

// cookieConfig (v1.6) or cookie (main): the cookie's lifetime, and main's name and path.
void DecodeCookie(const Node& cookie, SessionPersistence& out) {
  if (out.type != SessionPersistence::Type::kCookie) {
    cookie.Fail("Invalid value: " + cookie.path().substr(cookie.path().rfind('.') + 1) +
                " can only be set with type Cookie");
  }
  std::string lifetime = cookie.StrOr("lifetimeType", "Session");
  CheckEnum(cookie.PathOf("lifetimeType"), lifetime, {"Permanent", "Session"});
  out.permanent_cookie = lifetime == "Permanent";
  if (out.permanent_cookie && !out.absolute_timeout_ms) {
    cookie.FailAt("lifetimeType",
                  "Invalid value: AbsoluteTimeout must be specified when cookie lifetimeType "
                  "is Permanent");
  }
}

}  // namespace

SessionPersistence DecodeSessionPersistence(const Node& node) {
  SessionPersistence out;
  std::string type = node.StrOr("type", "Cookie");
  CheckEnum(node.PathOf("type"), type, {"Cookie", "Header"});
  out.type =
      type == "Cookie" ? SessionPersistence::Type::kCookie : SessionPersistence::Type::kHeader;
  DecodeName(node, "sessionName", out);
  auto timeout = [&](const char* key) -> std::optional<int64_t> {
    auto value = node.OptStr(key);
    if (!value) return std::nullopt;
    int64_t ms = ParseDuration(node.PathOf(key), *value);
    if (ms == 0) node.FailAt(key, "Invalid value: \"" + *value + "\": must be longer than 0");
    return ms;
  };
  out.absolute_timeout_ms = timeout("absoluteTimeout");
  out.idle_timeout_ms = timeout("idleTimeout");
  if (node.Has("cookieConfig") && node.Has("cookie")) {
    node.FailAt("cookie", "Invalid value: cookieConfig and cookie both set: set one");
  }
  if (auto cookie = node.OptChild("cookieConfig")) DecodeCookie(*cookie, out);
  if (auto cookie = node.OptChild("cookie")) {
    DecodeCookie(*cookie, out);
    DecodeName(*cookie, "name", out);
    if (auto path = cookie->OptStr("path")) {
      CheckLength(cookie->PathOf("path"), *path, 1024);
      // RFC 6265 5.2.4: a Path not starting with "/" is ignored by the client; 4.1.1: no ";"
      // or control character (it would end the attribute, or add others).
      bool clean = std::none_of(path->begin(), path->end(),
                                [](unsigned char c) { return c == ';' || c < 0x20 || c == 0x7f; });
      if (!path->starts_with("/") || !clean) {
        cookie->FailAt("path", "Invalid value: \"" + *path +
                                   "\": a cookie Path starts with \"/\" and holds no \";\" or "
                                   "control character");
      }
      out.cookie_path = std::move(path);
    }
  }
  if (auto header = node.OptChild("header")) {
    if (out.type != SessionPersistence::Type::kHeader) {
      header->Fail("Invalid value: header can only be set with type Header");
    }
    DecodeName(*header, "name", out);
  }
  return out;
}

}  // namespace xgate::model
