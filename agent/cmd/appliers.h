// The data planes the agent programs, chosen from its flags.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/appliers/applier.h"
#include "agent/cmd/flags.h"
#include "agent/l7/listen_reports.h"

namespace xgate::agent {

// Every applier, in the order each snapshot is handed to them. The proxy's listen reports go
// to `listen_reports`.
absl::StatusOr<std::vector<std::unique_ptr<appliers::Applier>>> BuildAppliers(
    const AgentFlags& flags, std::shared_ptr<l7::ListenReports> listen_reports = nullptr);

// Where the agent serves the proxy's config stream: proxy.sock beside the admin socket.
std::string ProxySocketPath(const AgentFlags& flags);

}  // namespace xgate::agent
