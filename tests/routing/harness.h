// Builds L7 configs for routing tests (routes written as text protos, already in the
// precedence order the compiler produces) and runs a request through match, filters and
// backend choice the way the proxy does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"
#include "userspace-proxy/routing/filters.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::routing::testing {

inline constexpr char kInfraNs[] = "gateway-conformance-infra";
inline constexpr char kGatewayAddress[] = "198.18.100.1";

// "gateway-conformance-infra/infra-backend-v1:8080"
std::string Cluster(const std::string& backend);

// One Route text proto: identity, match (text proto of RouteMatch), one backend with weight 1
// ("" for none), extra filters (text proto of repeated `filters {}` entries).
std::string Route(const std::string& name, int rule, int match, const std::string& match_tp,
                  const std::string& backend, const std::string& filters_tp = "");

// A config with one HTTP Port (address, port 80), one listener without hostname and one
// virtual host "" holding `routes` in order.
api::L7Config SingleHostConfig(const std::vector<std::string>& routes);

// Parses a whole L7Config text proto (fails the test on a syntax error).
api::L7Config ParseConfig(const std::string& text);

struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string host = kGatewayAddress;
  std::map<std::string, std::string> headers;
  std::string address = kGatewayAddress;
  uint16_t port = 80;
};

struct Result {
  int status = 0;               // 200 when proxied to a backend
  std::string cluster;          // chosen backend cluster
  std::string location;         // redirects
  http::RequestHead forwarded;  // the request as it would go upstream
  RouteDecision decision;
};

Result Simulate(const RouteTable& table, const Request& request, uint64_t seed = 1);

}  // namespace xgate::routing::testing
