#include "agent/compiler/grpc_match.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"

namespace xgate::compiler {

model::HTTPRouteMatch GRPCToHTTPMatch(const model::GRPCRouteMatch& match) {
  model::HTTPRouteMatch out;
  out.method = "POST";
  out.headers = match.headers;
  if (!match.method) return out;  // PathPrefix "/": every service and method
  const model::GRPCMethodMatch& m = *match.method;
  if (m.type == model::GRPCMethodMatchType::kExact && !m.service.empty()) {
    out.path.type =
        m.method.empty() ? model::PathMatchType::kPathPrefix : model::PathMatchType::kExact;
    out.path.value = absl::StrCat("/", m.service, "/", m.method);
    return out;
  }
  // A service or method left empty matches any one path segment.
  auto part = [&](const std::string& value) {
    if (value.empty()) return std::string("[^/]+");
    return m.type == model::GRPCMethodMatchType::kExact ? RE2::QuoteMeta(value)
                                                        : absl::StrCat("(?:", value, ")");
  };
  out.path.type = model::PathMatchType::kRegularExpression;
  out.path.value = absl::StrCat("/", part(m.service), "/", part(m.method));
  return out;
}

GRPCPrecedence PrecedenceOf(const model::GRPCRouteMatch& match) {
  GRPCPrecedence p;
  if (match.method) {
    p.service_chars = static_cast<int64_t>(match.method->service.size());
    p.method_chars = static_cast<int64_t>(match.method->method.size());
  }
  p.header_matches = static_cast<int64_t>(match.headers.size());
  return p;
}

}  // namespace xgate::compiler
