// A GRPCRoute match as the proxy's route table matches it: a gRPC request is an HTTP/2 POST
// to "/{service}/{method}", so the method match becomes a path match.
#pragma once

#include <cstdint>
#include <tuple>

#include "agent/model/objects.h"

namespace xgate::compiler {

// Exact service and method: Exact "/service/method"; service only: PathPrefix "/service/";
// method only, or RegularExpression: a RE2 on the whole path. Method POST (gRPC is only
// ever POST); headers as header matches.
model::HTTPRouteMatch GRPCToHTTPMatch(const model::GRPCRouteMatch& match);

// The GRPCRoute rule precedence among matches of one hostname: the most characters of
// service, then of method, then the most header matches (smaller sorts first).
struct GRPCPrecedence {
  int64_t service_chars = 0;
  int64_t method_chars = 0;
  int64_t header_matches = 0;
  auto Key() const { return std::make_tuple(-service_chars, -method_chars, -header_matches); }
};
GRPCPrecedence PrecedenceOf(const model::GRPCRouteMatch& match);

}  // namespace xgate::compiler
