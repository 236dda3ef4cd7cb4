// A route rule's sessionPersistence (Gateway API GEP-1619, experimental channel).
#include "agent/model/decode.h"

namespace xgate::model {

SessionPersistence DecodeSessionPersistence(const Node& node) {
  SessionPersistence out;
  std::string type = node.StrOr("type", "Cookie");
  CheckEnum(node.PathOf("type"), type, {"Cookie", "Header"});
  out.type =
      type == "Cookie" ? SessionPersistence::Type::kCookie : SessionPersistence::Type::kHeader;
  if (auto name = node.OptStr("sessionName")) {
    CheckLength(node.PathOf("sessionName"), *name, 128);
    // The CRD bounds only the length; the name goes on the wire as a cookie or header name.
    CheckHeaderName(node.PathOf("sessionName"), *name);
    out.session_name = std::move(name);
  }
  auto timeout = [&](const char* key) -> std::optional<int64_t> {
    auto value = node.OptStr(key);
    if (!value) return std::nullopt;
    int64_t ms = ParseDuration(node.PathOf(key), *value);
    if (ms == 0) node.FailAt(key, "Invalid value: \"" + *value + "\": must be longer than 0");
    return ms;
  };
  out.absolute_timeout_ms = timeout("absoluteTimeout");
  out.idle_timeout_ms = timeout("idleTimeout");
  if (auto cookie = node.OptChild("cookieConfig")) {
    if (out.type != SessionPersistence::Type::kCookie) {
      cookie->Fail("Invalid value: cookieConfig can only be set with type Cookie");
    }
    std::string lifetime = cookie->StrOr("lifetimeType", "Session");
    CheckEnum(cookie->PathOf("lifetimeType"), lifetime, {"Permanent", "Session"});
    out.permanent_cookie = lifetime == "Permanent";
    if (out.permanent_cookie && !out.absolute_timeout_ms) {
      cookie->FailAt("lifetimeType",
                     "Invalid value: AbsoluteTimeout must be specified when cookie lifetimeType "
                     "is Permanent");
    }
  }
  return out;
}

}  // namespace xgate::model
