// xgate-agent's command line.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/binder/binder.h"

namespace CLI {
class App;
}

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
  std::string proxy_user;  // --proxy-user NAME|UID: xgate-proxy runs as that user; "": root
  // --max-gateway-listeners N: a Gateway's merged listener list (binder::BindOptions).
  size_t max_gateway_listeners = binder::kDefaultMaxGatewayListeners;
};

using EnvLookup = std::function<std::string(const std::string& name)>;  // "" when unset

// The flags (--name VALUE or --name=VALUE) on `app`, written into `flags` when it parses.
void AddAgentFlags(CLI::App& app, AgentFlags& flags);
// After parsing: the source mode, and the defaults from the environment (`env`, the process
// environment when null) and the host name.
absl::Status ResolveAgentFlags(AgentFlags& flags, const EnvLookup& env = nullptr);
// Both, on argv (argv[0] is the program).
absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv,
                                           const EnvLookup& env = nullptr);

}  // namespace xgate::agent
