#include "tests/routing/harness.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <random>

namespace xgate::routing::testing {

std::string Cluster(const std::string& backend) {
  return std::string(kInfraNs) + "/" + backend + ":8080";
}

std::string Route(const std::string& name, int rule, int match, const std::string& match_tp,
                  const std::string& backend, const std::string& filters_tp) {
  std::string r = "route_kind: 'HTTPRoute' route_namespace: '" + std::string(kInfraNs) +
                  "' route_name: '" + name + "' rule_index: " + std::to_string(rule) +
                  " match_index: " + std::to_string(match) + " match { " + match_tp + " } ";
  if (!backend.empty()) {
    r += "backends { cluster: '" + Cluster(backend) + "' weight: 1 service: '" + kInfraNs + "/" +
         backend + "' } ";
  }
  return r + filters_tp;
}

api::L7Config ParseConfig(const std::string& text) {
  api::L7Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

api::L7Config SingleHostConfig(const std::vector<std::string>& routes) {
  std::string text = "generation: 1 ports { port: 80 protocol: HTTP addresses: '" +
                     std::string(kGatewayAddress) +
                     "' listeners { gateway_namespace: 'gateway-conformance-infra' "
                     "gateway_name: 'same-namespace' name: 'http' virtual_hosts { hostname: '' ";
  for (const std::string& r : routes) text += "routes { " + r + " } ";
  text += "} } }";
  return ParseConfig(text);
}

Result Simulate(const RouteTable& table, const Request& request, uint64_t seed) {
  Result result;
  http::RequestHead& head = result.forwarded;
  head.method = request.method;
  head.path = request.path;
  head.host = request.host;
  for (const auto& [name, value] : request.headers) head.headers.Add(name, value);

  MatchInput input;
  input.local_address = request.address;
  input.local_port = request.port;
  input.request = &head;
  result.decision = table.Match(input);
  if (result.decision.outcome != RouteDecision::Outcome::kRouted) {
    result.status = result.decision.status;
    return result;
  }
  const CompiledRoute& route = *result.decision.route;
  RequestContext context;
  context.scheme = "http";
  context.listener_port = result.decision.port->port->port();
  context.client_address = "198.18.0.9";
  context.matched_prefix = MatchedPrefix(route);
  std::mt19937_64 rng(seed);
  FilterOutcome outcome = ApplyRequestFilters(route.route->filters(), context, head, rng);
  if (outcome.redirect) {
    result.status = outcome.redirect->status;
    result.location = outcome.redirect->location;
    return result;
  }
  const api::WeightedCluster* backend = PickBackend(route, rng);
  if (backend == nullptr || backend->cluster().empty()) {
    result.status = 500;
    return result;
  }
  ApplyRequestFilters(backend->filters(), context, head, rng);
  result.status = 200;
  result.cluster = backend->cluster();
  return result;
}

}  // namespace xgate::routing::testing
