// GRPCRoute (gateway.networking.k8s.io/v1) and the CRD's validation rules.
#include <re2/re2.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"

namespace xgate::model {
namespace {

GRPCMethodMatch DecodeMethodMatch(const Node& m) {
  static const RE2 kService(R"((?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*)");
  static const RE2 kMethod(R"([A-Za-z_][A-Za-z_0-9]*)");
  GRPCMethodMatch out;
  std::string type = m.StrOr("type", "Exact");
  CheckEnum(m.PathOf("type"), type, {"Exact", "RegularExpression"});
  out.type =
      type == "Exact" ? GRPCMethodMatchType::kExact : GRPCMethodMatchType::kRegularExpression;
  out.service = m.OptStr("service").value_or("");
  out.method = m.OptStr("method").value_or("");
  CheckLength(m.PathOf("service"), out.service, 1024);
  CheckLength(m.PathOf("method"), out.method, 1024);
  if (out.service.empty() && out.method.empty()) {
    m.Fail("Invalid value: One or both of 'service' or 'method' must be specified");
  }
  if (out.type == GRPCMethodMatchType::kExact) {
    if (!out.service.empty() && !RE2::FullMatch(out.service, kService)) {
      m.FailAt("service",
               absl::StrCat("Invalid value: \"", out.service,
                            "\": service must only contain valid characters "
                            "(matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)"));
    }
    if (!out.method.empty() && !RE2::FullMatch(out.method, kMethod)) {
      m.FailAt("method", absl::StrCat("Invalid value: \"", out.method,
                                      "\": method must only contain valid characters "
                                      "(matching ^[A-Za-z_][A-Za-z_0-9]*$)"));
    }
  }
  return out;
}

GRPCRouteMatch DecodeGRPCMatch(const Node& m) {
  GRPCRouteMatch out;
  if (auto method = m.OptChild("method")) out.method = DecodeMethodMatch(*method);
  std::set<std::string> names;  // the list's map key: exact duplicates are refused
  std::set<std::string> folded;
  for (const Node& h : m.Items("headers", 16)) {
    HTTPHeaderMatch hm = DecodeHeaderMatch(h, names, /*fold_case=*/false);
    // The spec: of names equal but for case, only the first is considered.
    if (folded.insert(absl::AsciiStrToLower(hm.name)).second) out.headers.push_back(std::move(hm));
  }
  return out;
}

GRPCRouteRule DecodeGRPCRule(const Node& r) {
  GRPCRouteRule out;
  out.name = r.OptStr("name");
  if (out.name) CheckSectionName(r.PathOf("name"), *out.name);
  for (const Node& m : r.Items("matches", 64)) out.matches.push_back(DecodeGRPCMatch(m));
  out.filters = DecodeFilters(r, /*grpc=*/true);
  for (const Node& b : r.Items("backendRefs", 16)) {
    BackendRef br = DecodeBackendRef(b, true);
    br.filters = DecodeFilters(b, /*grpc=*/true);
    out.backend_refs.push_back(std::move(br));
  }
  if (auto session = r.OptChild("sessionPersistence")) {
    out.session_persistence = DecodeSessionPersistence(*session);
  }
  return out;
}

}  // namespace

void DecodeGRPCRoute(const Node& root, GRPCRoute& out) {
  Node spec = root.ChildOrEmpty("spec");
  out.parent_refs = DecodeParentRefs(spec);
  out.hostnames = DecodeHostnames(spec);
  std::vector<std::optional<std::string>> names;
  size_t total_matches = 0;
  for (const Node& r : spec.Items("rules", 16)) {
    out.rules.push_back(DecodeGRPCRule(r));
    names.push_back(out.rules.back().name);
    total_matches += out.rules.back().matches.size();
  }
  CheckTotalMatches(spec, total_matches);
  CheckUniqueRuleNames(spec, names);
}

}  // namespace xgate::model
