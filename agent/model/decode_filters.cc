// HTTPRoute filters (rule and backendRef level) and their CRD rules.
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"
#include "re2/re2.h"

namespace xgate::model {
namespace {

std::vector<HTTPHeader> DecodeHeaderList(const Node& node, const std::string& key) {
  std::vector<HTTPHeader> out;
  std::set<std::string> seen;
  for (const Node& h : node.Items(key, 16)) {
    HTTPHeader header{h.Str("name"), h.OptStr("value").value_or("")};
    if (!h.Has("value")) h.FailAt("value", "Required value");
    CheckHeaderName(h.PathOf("name"), header.name);
    CheckLength(h.PathOf("value"), header.value, 4096);
    if (!seen.insert(absl::AsciiStrToLower(header.name)).second) {
      h.FailAt("name", absl::StrCat("Duplicate value: \"", header.name, "\""));
    }
    out.push_back(std::move(header));
  }
  return out;
}

HTTPHeaderModifier DecodeHeaderModifier(const Node& node) {
  HTTPHeaderModifier out;
  out.set = DecodeHeaderList(node, "set");
  out.add = DecodeHeaderList(node, "add");
  out.remove = node.StrList("remove", 16);
  for (size_t i = 0; i < out.remove.size(); ++i) {
    CheckHeaderName(absl::StrCat(node.PathOf("remove"), "[", i, "]"), out.remove[i]);
  }
  return out;
}

HTTPPathModifier DecodePathModifier(const Node& node) {
  HTTPPathModifier out;
  std::string type = node.Str("type");
  CheckEnum(node.PathOf("type"), type, {"ReplaceFullPath", "ReplacePrefixMatch"});
  bool full = type == "ReplaceFullPath";
  out.type = full ? PathModifierType::kReplaceFullPath : PathModifierType::kReplacePrefixMatch;
  const char* want = full ? "replaceFullPath" : "replacePrefixMatch";
  const char* other = full ? "replacePrefixMatch" : "replaceFullPath";
  if (node.Has(other)) {
    node.FailAt(other, absl::StrCat("Forbidden: type must be '",
                                    full ? "ReplacePrefixMatch" : "ReplaceFullPath", "' when ",
                                    other, " is set"));
  }
  auto value = node.OptStr(want);
  if (!value) {
    node.FailAt(want, absl::StrCat("Required value: ", want,
                                   " must be specified when type is "
                                   "set to '",
                                   type, "'"));
  }
  out.value = *value;
  CheckLength(node.PathOf(want), out.value, 1024);
  if (!out.value.empty() && out.value[0] != '/') {
    node.FailAt(want, absl::StrCat("Invalid value: \"", out.value, "\": must start with '/'"));
  }
  return out;
}

ObjectReference DecodeBackendObjectRef(const Node& node) {
  return DecodeBackendRef(node, false).ref;
}

// A list that may hold "*" only alone (the CRD's CEL rule), each item checked by `check`.
std::vector<std::string> WildcardAloneList(const Node& n, const std::string& key, size_t max_items,
                                           const std::string& wildcard_message,
                                           const std::function<bool(const std::string&)>& check,
                                           const std::string& expected) {
  std::vector<std::string> items = n.StrList(key, max_items);
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i] == "*") {
      if (items.size() > 1) {
        n.FailAt(key, absl::StrCat("Invalid value: ", wildcard_message));
      }
    } else if (!check(items[i])) {
      n.FailAt(absl::StrCat(key, "[", i, "]"),
               absl::StrCat("Invalid value: \"", items[i], "\": ", expected));
    }
  }
  return items;
}

HTTPCORSFilter DecodeCors(const Node& c) {
  static const RE2 kOrigin(
      R"(^(https?)://((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:[0-9]{1,5})?$)");
  static const RE2 kToken(R"(^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$)");
  static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                 "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  HTTPCORSFilter out;
  out.allow_origins = WildcardAloneList(
      c, "allowOrigins", 64, "AllowOrigins cannot contain '*' alongside other origins",
      [](const std::string& o) { return RE2::FullMatch(o, kOrigin); },
      "must be \"*\" or scheme://host[:port] with http or https, the host possibly "
      "\"*.\"-prefixed");
  out.allow_credentials = c.OptBool("allowCredentials").value_or(false);
  out.allow_methods = WildcardAloneList(
      c, "allowMethods", 9, "AllowMethods cannot contain '*' alongside other methods",
      [](const std::string& m) { return kMethods.count(m) > 0; },
      "supported values: GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, *");
  auto token = [](const std::string& h) { return RE2::FullMatch(h, kToken); };
  out.allow_headers = WildcardAloneList(c, "allowHeaders", 64,
                                        "AllowHeaders cannot contain '*' alongside other headers",
                                        token, "must be an HTTP header name");
  out.expose_headers = WildcardAloneList(c, "exposeHeaders", 64,
                                         "ExposeHeaders cannot contain '*' alongside other headers",
                                         token, "must be an HTTP header name");
  out.max_age_seconds = static_cast<int>(c.IntOr("maxAge", 5, 1, INT32_MAX));
  return out;
}

HTTPRouteFilter DecodeFilter(const Node& f) {
  HTTPRouteFilter out;
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {"RequestHeaderModifier", "requestHeaderModifier"},
      {"ResponseHeaderModifier", "responseHeaderModifier"},
      {"RequestRedirect", "requestRedirect"},
      {"URLRewrite", "urlRewrite"},
      {"RequestMirror", "requestMirror"},
      {"ExtensionRef", "extensionRef"},
      {"CORS", "cors"}};
  std::string type = f.Str("type");
  std::vector<std::string> names;
  for (const auto& t : kTypes) names.push_back(t.first);
  CheckEnum(f.PathOf("type"), type, names);
  for (size_t i = 0; i < kTypes.size(); ++i) {
    const auto& [tname, field] = kTypes[i];
    if (tname == type) {
      out.type = static_cast<HTTPFilterType>(i);
      if (!f.Has(field)) {
        f.FailAt(field, absl::StrCat("Required value: filter.", field, " must be specified for ",
                                     tname, " filter.type"));
      }
    } else if (f.Has(field)) {
      f.FailAt(field, absl::StrCat("Forbidden: filter.", field,
                                   " must be nil if the filter.type "
                                   "is not ",
                                   tname));
    }
  }
  switch (out.type) {
    case HTTPFilterType::kRequestHeaderModifier:
      out.request_header_modifier = DecodeHeaderModifier(f.Child("requestHeaderModifier"));
      break;
    case HTTPFilterType::kResponseHeaderModifier:
      out.response_header_modifier = DecodeHeaderModifier(f.Child("responseHeaderModifier"));
      break;
    case HTTPFilterType::kRequestRedirect: {
      Node r = f.Child("requestRedirect");
      auto& rr = out.request_redirect;
      rr.scheme = r.OptStr("scheme");
      if (rr.scheme) CheckEnum(r.PathOf("scheme"), *rr.scheme, {"http", "https"});
      rr.hostname = r.OptStr("hostname");
      if (rr.hostname) CheckPreciseHostname(r.PathOf("hostname"), *rr.hostname);
      if (auto p = r.OptChild("path")) rr.path = DecodePathModifier(*p);
      if (auto port = r.OptInt("port", 1, 65535)) rr.port = static_cast<int>(*port);
      rr.status_code = static_cast<int>(r.IntOr("statusCode", 302, 0, 999));
      if (rr.status_code != 301 && rr.status_code != 302 && rr.status_code != 303 &&
          rr.status_code != 307 && rr.status_code != 308) {
        r.FailAt("statusCode", absl::StrCat("Unsupported value: ", rr.status_code,
                                            ": supported values: 301, 302, 303, 307, 308"));
      }
      break;
    }
    case HTTPFilterType::kURLRewrite: {
      Node r = f.Child("urlRewrite");
      out.url_rewrite.hostname = r.OptStr("hostname");
      if (out.url_rewrite.hostname)
        CheckPreciseHostname(r.PathOf("hostname"), *out.url_rewrite.hostname);
      if (auto p = r.OptChild("path")) out.url_rewrite.path = DecodePathModifier(*p);
      break;
    }
    case HTTPFilterType::kRequestMirror: {
      Node m = f.Child("requestMirror");
      out.request_mirror.backend_ref = DecodeBackendObjectRef(m.Child("backendRef"));
      auto percent = m.OptInt("percent", 0, 100);
      if (auto frac = m.OptChild("fraction")) {
        if (percent)
          m.FailAt("fraction", "Forbidden: only one of percent or fraction may be specified");
        int64_t num = frac->Int("numerator", 0, INT32_MAX);
        int64_t den = frac->IntOr("denominator", 100, 1, INT32_MAX);
        if (num > den)
          frac->FailAt("numerator",
                       "Invalid value: numerator must be less than or equal to denominator");
        out.request_mirror.numerator = static_cast<int>(num);
        out.request_mirror.denominator = static_cast<int>(den);
      } else if (percent) {
        out.request_mirror.numerator = static_cast<int>(*percent);
        out.request_mirror.denominator = 100;
      }
      break;
    }
    case HTTPFilterType::kCORS:
      out.cors = DecodeCors(f.Child("cors"));
      break;
    case HTTPFilterType::kExtensionRef: {
      Node e = f.Child("extensionRef");
      auto& ref = out.extension_ref;
      ref.group = e.OptStr("group").value_or("");
      if (!e.Has("group")) e.FailAt("group", "Required value");
      CheckGroup(e.PathOf("group"), ref.group);
      ref.kind = e.Str("kind");
      CheckKindName(e.PathOf("kind"), ref.kind);
      ref.name = e.Str("name");
      CheckLength(e.PathOf("name"), ref.name, 253);
      break;
    }
  }
  return out;
}

}  // namespace

// The per-list CEL rules of the filters of a rule or a backendRef.
std::vector<HTTPRouteFilter> DecodeFilters(const Node& owner, bool grpc) {
  std::vector<HTTPRouteFilter> out;
  std::set<HTTPFilterType> seen;
  for (const Node& f : owner.Items("filters", 16)) {
    if (grpc) {
      CheckEnum(
          f.PathOf("type"), f.Str("type"),
          {"ResponseHeaderModifier", "RequestHeaderModifier", "RequestMirror", "ExtensionRef"});
    }
    HTTPRouteFilter filter = DecodeFilter(f);
    bool unique = filter.type != HTTPFilterType::kRequestMirror &&
                  filter.type != HTTPFilterType::kExtensionRef;
    if (unique && !seen.insert(filter.type).second) {
      f.FailAt("type", absl::StrCat("Invalid value: ", f.json()["type"].get<std::string>(),
                                    " filter cannot be repeated"));
    }
    seen.insert(filter.type);
    out.push_back(std::move(filter));
  }
  if (seen.count(HTTPFilterType::kRequestRedirect) && seen.count(HTTPFilterType::kURLRewrite)) {
    owner.FailAt("filters",
                 "Invalid value: may specify either RequestRedirect or URLRewrite, but not both");
  }
  return out;
}

bool UsesReplacePrefixMatch(const std::vector<HTTPRouteFilter>& filters) {
  for (const auto& f : filters) {
    const std::optional<HTTPPathModifier>* path = nullptr;
    if (f.type == HTTPFilterType::kRequestRedirect) path = &f.request_redirect.path;
    if (f.type == HTTPFilterType::kURLRewrite) path = &f.url_rewrite.path;
    if (path && *path && (*path)->type == PathModifierType::kReplacePrefixMatch) return true;
  }
  return false;
}

}  // namespace xgate::model
