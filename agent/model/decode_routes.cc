#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"
#include "agent/model/v1alpha1.h"

namespace xgate::model {
namespace {

constexpr int64_t kMaxWeight = 1000000;

HTTPPathMatch DecodePathMatch(const Node& match) {
  HTTPPathMatch out;
  Node path = match.ChildOrEmpty("path");
  std::string type = path.StrOr("type", "PathPrefix");
  CheckEnum(path.PathOf("type"), type, {"Exact", "PathPrefix", "RegularExpression"});
  out.type = type == "Exact"        ? PathMatchType::kExact
             : type == "PathPrefix" ? PathMatchType::kPathPrefix
                                    : PathMatchType::kRegularExpression;
  out.value = path.StrOr("value", "/");
  if (out.type == PathMatchType::kRegularExpression) {
    CheckLength(path.PathOf("value"), out.value, 1024);
  } else {
    CheckHTTPPath(path.PathOf("value"), out.value);
  }
  return out;
}

HTTPRouteMatch DecodeMatch(const Node& m) {
  HTTPRouteMatch out;
  out.path = DecodePathMatch(m);
  std::set<std::string> seen;
  for (const Node& h : m.Items("headers", 16)) {
    out.headers.push_back(DecodeHeaderMatch(h, seen, /*fold_case=*/true));
  }
  seen.clear();
  for (const Node& q : m.Items("queryParams", 16)) {
    HTTPQueryParamMatch qm;
    qm.type = DecodeStringMatchType(q);
    qm.name = q.Str("name");
    CheckHeaderName(q.PathOf("name"), qm.name);
    if (!seen.insert(qm.name).second) {
      q.FailAt("name", absl::StrCat("Duplicate value: query param match \"", qm.name,
                                    "\" appears twice in this match"));
    }
    qm.value = q.Str("value");
    CheckLength(q.PathOf("value"), qm.value, 1024);
    out.query_params.push_back(std::move(qm));
  }
  out.method = m.OptStr("method");
  if (out.method) {
    CheckEnum(m.PathOf("method"), *out.method,
              {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"});
  }
  return out;
}

HTTPRouteRetry DecodeRetry(const Node& r) {
  HTTPRouteRetry out;
  for (const Node& code : r.Items("codes", 200, 0, /*objects=*/false)) {
    const nlohmann::json& j = code.json();
    if (!j.is_number_integer()) code.Fail("Invalid value: must be an integer HTTP status code");
    int64_t v = j.get<int64_t>();
    if (v < 400 || v > 599) {
      code.Fail(absl::StrCat("Invalid value: ", v, ": must be between 400 and 599"));
    }
    out.codes.push_back(static_cast<int>(v));
  }
  // The CRD leaves attempts unbounded; a negative count means nothing, so it is refused.
  out.attempts = r.OptInt("attempts", 0, 1000);
  if (auto backoff = r.OptStr("backoff"))
    out.backoff_ms = ParseDuration(r.PathOf("backoff"), *backoff);
  return out;
}

HTTPRouteRule DecodeHTTPRule(const Node& r) {
  HTTPRouteRule out;
  out.name = r.OptStr("name");
  if (out.name) CheckSectionName(r.PathOf("name"), *out.name);
  if (!r.Has("matches") || (r.json()["matches"].is_array() && r.json()["matches"].empty())) {
    r.json()["matches"] = nlohmann::json::array({nlohmann::json::object()});
  }
  for (const Node& m : r.Items("matches", 64)) out.matches.push_back(DecodeMatch(m));
  out.filters = DecodeFilters(r);
  for (const Node& b : r.Items("backendRefs", 16)) {
    BackendRef br = DecodeBackendRef(b, true);
    br.filters = DecodeFilters(b);
    out.backend_refs.push_back(std::move(br));
  }
  bool redirect = false;
  for (const auto& f : out.filters) redirect |= f.type == HTTPFilterType::kRequestRedirect;
  if (redirect && !out.backend_refs.empty()) {
    r.FailAt("filters",
             "Invalid value: RequestRedirect filter must not be used together with "
             "backendRefs");
  }
  if (UsesReplacePrefixMatch(out.filters)) {
    if (out.matches.size() != 1 || out.matches[0].path.type != PathMatchType::kPathPrefix) {
      r.FailAt("filters",
               "Invalid value: when using ReplacePrefixMatch, exactly one "
               "PathPrefix match must be specified");
    }
  }
  for (size_t i = 0; i < out.backend_refs.size(); ++i) {
    if (UsesReplacePrefixMatch(out.backend_refs[i].filters) &&
        (out.matches.size() != 1 || out.matches[0].path.type != PathMatchType::kPathPrefix)) {
      throw DecodeError(absl::StrCat(r.PathOf("backendRefs"), "[", i, "].filters"),
                        "Invalid value: when using ReplacePrefixMatch, exactly one PathPrefix "
                        "match must be specified");
    }
  }
  if (auto t = r.OptChild("timeouts")) {
    if (auto req = t->OptStr("request"))
      out.timeouts.request_ms = ParseDuration(t->PathOf("request"), *req);
    if (auto be = t->OptStr("backendRequest")) {
      out.timeouts.backend_request_ms = ParseDuration(t->PathOf("backendRequest"), *be);
    }
    const auto& rq = out.timeouts.request_ms;
    const auto& bq = out.timeouts.backend_request_ms;
    if (rq && bq && *rq != 0 && *bq > *rq) {
      t->FailAt("backendRequest",
                "Invalid value: backendRequest timeout cannot be longer than request timeout");
    }
  }
  if (auto retry = r.OptChild("retry")) out.retry = DecodeRetry(*retry);
  if (auto session = r.OptChild("sessionPersistence")) {
    out.session_persistence = DecodeSessionPersistence(*session);
  }
  return out;
}

std::vector<L4RouteRule> DecodeL4Rules(const Node& spec) {
  std::vector<L4RouteRule> out;
  for (const Node& r : spec.Items("rules", 16, 1)) {
    L4RouteRule rule;
    rule.name = r.OptStr("name");
    if (rule.name) CheckSectionName(r.PathOf("name"), *rule.name);
    for (const Node& b : r.Items("backendRefs", 16, 1)) {
      rule.backend_refs.push_back(DecodeBackendRef(b, true));
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace

std::vector<std::string> DecodeHostnames(const Node& spec) {
  std::vector<std::string> out = spec.StrList("hostnames", 16);
  for (size_t i = 0; i < out.size(); ++i) {
    CheckHostname(absl::StrCat(spec.PathOf("hostnames"), "[", i, "]"), out[i]);
  }
  return out;
}

StringMatchType DecodeStringMatchType(const Node& node) {
  std::string type = node.StrOr("type", "Exact");
  CheckEnum(node.PathOf("type"), type, {"Exact", "RegularExpression"});
  return type == "Exact" ? StringMatchType::kExact : StringMatchType::kRegularExpression;
}

void CheckUniqueRuleNames(const Node& spec, const std::vector<std::optional<std::string>>& names) {
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] && !seen.insert(*names[i]).second) {
      throw DecodeError(absl::StrCat(spec.PathOf("rules"), "[", i, "].name"),
                        "Duplicate value: rule name must be unique within the route");
    }
  }
}

HTTPHeaderMatch DecodeHeaderMatch(const Node& h, std::set<std::string>& seen, bool fold_case) {
  HTTPHeaderMatch hm;
  hm.type = DecodeStringMatchType(h);
  hm.name = h.Str("name");
  CheckHeaderName(h.PathOf("name"), hm.name);
  if (!seen.insert(fold_case ? absl::AsciiStrToLower(hm.name) : hm.name).second) {
    h.FailAt("name", absl::StrCat("Duplicate value: header match \"", hm.name,
                                  "\" appears twice in this match"));
  }
  hm.value = h.Str("value");
  CheckLength(h.PathOf("value"), hm.value, 4096);
  return hm;
}

void CheckTotalMatches(const Node& spec, size_t total_matches) {
  if (total_matches > 128) {
    spec.FailAt("rules",
                "Invalid value: the total number of matches across all rules in a "
                "route must be less than 128");
  }
}

std::vector<ParentReference> DecodeParentRefs(const Node& spec) {
  std::vector<ParentReference> out;
  for (const Node& p : spec.Items("parentRefs", 32)) {
    ParentReference ref;
    ref.group = p.StrOr("group", kGatewayGroup);
    CheckGroup(p.PathOf("group"), ref.group);
    ref.kind = p.StrOr("kind", "Gateway");
    CheckKindName(p.PathOf("kind"), ref.kind);
    ref.ns = p.OptStr("namespace");
    if (ref.ns) CheckDnsLabel(p.PathOf("namespace"), *ref.ns);
    ref.name = p.Str("name");
    CheckLength(p.PathOf("name"), ref.name, 253);
    ref.section_name = p.OptStr("sectionName");
    if (ref.section_name) CheckSectionName(p.PathOf("sectionName"), *ref.section_name);
    if (auto port = p.OptInt("port", 1, 65535)) ref.port = static_cast<int>(*port);
    // Two references to the same parent must each name a distinct section or port.
    for (const ParentReference& prev : out) {
      if (prev.group != ref.group || prev.kind != ref.kind || prev.name != ref.name ||
          prev.ns != ref.ns) {
        continue;
      }
      bool distinct = (ref.section_name || ref.port) && (prev.section_name || prev.port) &&
                      (prev.section_name != ref.section_name || prev.port != ref.port);
      if (!distinct) {
        p.Fail(
            "Invalid value: sectionName or port must be specified, and unique, when "
            "parentRefs includes 2 or more references to the same parent");
      }
    }
    out.push_back(std::move(ref));
  }
  return out;
}

BackendRef DecodeBackendRef(const Node& node, bool weighted) {
  BackendRef out;
  ObjectReference& ref = out.ref;
  ref.group = node.StrOr("group", "");
  CheckGroup(node.PathOf("group"), ref.group);
  ref.kind = node.StrOr("kind", "Service");
  CheckKindName(node.PathOf("kind"), ref.kind);
  ref.name = node.Str("name");
  CheckLength(node.PathOf("name"), ref.name, 253);
  ref.ns = node.OptStr("namespace");
  if (ref.ns) CheckDnsLabel(node.PathOf("namespace"), *ref.ns);
  if (auto port = node.OptInt("port", 1, 65535)) ref.port = static_cast<int>(*port);
  if (ref.group.empty() && ref.kind == "Service" && !ref.port &&
      !node.Has(kV1alpha1PortFromServiceKey)) {
    node.FailAt("port", "Required value: must have port for Service reference");
  }
  if (weighted) out.weight = static_cast<int>(node.IntOr("weight", 1, 0, kMaxWeight));
  return out;
}

void DecodeHTTPRoute(const Node& root, HTTPRoute& out) {
  Node spec = root.ChildOrEmpty("spec");
  out.parent_refs = DecodeParentRefs(spec);
  out.hostnames = DecodeHostnames(spec);
  if (!spec.Has("rules")) spec.json()["rules"] = nlohmann::json::array({nlohmann::json::object()});
  std::vector<std::optional<std::string>> names;
  size_t total_matches = 0;
  for (const Node& r : spec.Items("rules", 16)) {
    out.rules.push_back(DecodeHTTPRule(r));
    names.push_back(out.rules.back().name);
    total_matches += out.rules.back().matches.size();
  }
  CheckTotalMatches(spec, total_matches);
  CheckUniqueRuleNames(spec, names);
}

void DecodeTCPRoute(const Node& root, TCPRoute& out) {
  Node spec = root.Child("spec");
  out.parent_refs = DecodeParentRefs(spec);
  out.rules = DecodeL4Rules(spec);
}

void DecodeUDPRoute(const Node& root, UDPRoute& out) {
  Node spec = root.Child("spec");
  out.parent_refs = DecodeParentRefs(spec);
  out.rules = DecodeL4Rules(spec);
}

void DecodeTLSRoute(const Node& root, TLSRoute& out) {
  Node spec = root.Child("spec");
  out.parent_refs = DecodeParentRefs(spec);
  out.hostnames = DecodeHostnames(spec);
  out.rules = DecodeL4Rules(spec);
}

}  // namespace xgate::model
