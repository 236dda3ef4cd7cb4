// The objects xgate-bench-convergence writes, as JSON (what the API server takes and what the
// standalone agent reads from its folder). The names are those the bed of `run` declares: the
// seed's Gateway default/prod-web with foo-home and foo-auth behind it, and the Gateway
// default/bench-l4 whose TCP listener "tcp-new" has no route until a round adds one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace xgate::bench {

inline constexpr char kHomePod[] = "foo-home-0";
inline constexpr char kAuthPod[] = "foo-auth-0";

// An HTTPRoute foo/<name> for <host> behind prod-web, split foo-home:foo-auth by weight.
nlohmann::json HttpRoute(const std::string& name, const std::string& host, int home_weight,
                         int auth_weight);

// A TCPRoute default/<name> on bench-l4's listener `section`, to the Service l4-tcp.
nlohmann::json TcpRoute(const std::string& name, const std::string& section);

}  // namespace xgate::bench
