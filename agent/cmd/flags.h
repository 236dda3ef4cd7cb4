// xgate-agent's command line.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::agent {

struct AgentFlags {
  std::string manifests;            // --manifests DIR (required)
  std::vector<std::string> attach;  // --attach IFACE, repeatable
  std::string pin_root = "/sys/fs/bpf/xgate";
  std::string admin_socket = "/run/xgate/admin.sock";
  std::string metrics_addr;  // --metrics-addr HOST:PORT; empty: no metrics endpoint
  bool detach_on_exit = false;
  bool help = false;
};

// Flags as --name VALUE or --name=VALUE.
absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv);

std::string AgentUsage();

}  // namespace xgate::agent
