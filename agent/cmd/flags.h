// xgate-agent's command line.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::agent {

enum class SourceMode {
  kManifests,   // --manifests DIR: standalone on a watched folder
  kKubeconfig,  // --kubeconfig FILE
  kInCluster,   // no --manifests, KUBERNETES_SERVICE_HOST set: the pod's service account
};

struct AgentFlags {
  SourceMode mode = SourceMode::kManifests;
  std::string manifests;            // --manifests DIR
  std::string kubeconfig;           // --kubeconfig FILE
  std::string node_name;            // --node-name; default $NODE_NAME, else the host name
  std::string ns;                   // --namespace; default $POD_NAMESPACE, else xgate-system
  std::vector<std::string> attach;  // --attach IFACE, repeatable
  std::string pin_root = "/sys/fs/bpf/xgate";
  std::string admin_socket = "/run/xgate/admin.sock";
  std::string cni_state_dir = "/run/xgate/cni";  // xgate-cni's records (its "stateDir")
  std::string metrics_addr;  // --metrics-addr HOST:PORT; empty: no metrics endpoint
  bool detach_on_exit = false;
  bool help = false;
};

using EnvLookup = std::function<std::string(const std::string& name)>;  // "" when unset

// Flags as --name VALUE or --name=VALUE; defaults from the environment (`env`, the process
// environment when null) and the host name.
absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv,
                                           const EnvLookup& env = nullptr);

std::string AgentUsage();

}  // namespace xgate::agent
