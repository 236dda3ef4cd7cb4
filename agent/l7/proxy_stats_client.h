// The agent's side of the proxy's stats socket: asks xgate-proxy for its counters
// (api/proxy.proto ProxyStatsService), within a deadline, so a scrape or an admin call never
// hangs on a proxy that is down or stuck.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "api/proxy.pb.h"

namespace xgate::l7 {

// proxy-stats.sock beside the config stream's socket: where the agent tells the proxy it
// starts to serve its counters.
std::string ProxyStatsSocketPath(const std::string& config_socket);

// UNAVAILABLE (or DEADLINE_EXCEEDED) with the reason when no proxy answers in time.
absl::StatusOr<api::ProxyStats> FetchProxyStats(
    const std::string& socket_path,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

}  // namespace xgate::l7
