#include "agent/cmd/flags.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace xgate::agent {
namespace {

std::string ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv,
                                           const EnvLookup& env_lookup) {
  EnvLookup env = env_lookup ? env_lookup : EnvLookup(&ProcessEnv);
  AgentFlags flags;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string name = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "-h" || name == "--help") {
      flags.help = true;
      return flags;
    }
    if (name == "--detach-on-exit") {
      if (has_value) return absl::InvalidArgumentError("--detach-on-exit takes no value");
      flags.detach_on_exit = true;
      continue;
    }
    std::string* target = nullptr;
    if (name == "--manifests") target = &flags.manifests;
    if (name == "--kubeconfig") target = &flags.kubeconfig;
    if (name == "--node-name") target = &flags.node_name;
    if (name == "--namespace") target = &flags.ns;
    if (name == "--pin-root") target = &flags.pin_root;
    if (name == "--admin-socket") target = &flags.admin_socket;
    if (name == "--metrics-addr") target = &flags.metrics_addr;
    if (name == "--cni-state-dir") target = &flags.cni_state_dir;
    std::string attach;
    if (name == "--attach") target = &attach;
    if (target == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = argv[++i];
    }
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    *target = value;
    if (name == "--attach") flags.attach.push_back(attach);
  }
  if (!flags.manifests.empty() && !flags.kubeconfig.empty()) {
    return absl::InvalidArgumentError(
        "--manifests DIR (standalone) and --kubeconfig FILE (Kubernetes) exclude each other");
  }
  if (!flags.manifests.empty()) {
    flags.mode = SourceMode::kManifests;
  } else if (!flags.kubeconfig.empty()) {
    flags.mode = SourceMode::kKubeconfig;
  } else if (!env("KUBERNETES_SERVICE_HOST").empty()) {
    flags.mode = SourceMode::kInCluster;
  } else {
    return absl::InvalidArgumentError(
        "--manifests DIR or --kubeconfig FILE is required (in a pod, KUBERNETES_SERVICE_HOST "
        "selects the service account)");
  }
  if (flags.node_name.empty()) flags.node_name = env("NODE_NAME");
  if (flags.node_name.empty()) flags.node_name = HostName();
  if (flags.ns.empty()) flags.ns = env("POD_NAMESPACE");
  if (flags.ns.empty()) flags.ns = "xgate-system";
  return flags;
}

std::string AgentUsage() {
  return "usage: xgate-agent --manifests DIR | --kubeconfig FILE | (in a pod: the service "
         "account)\n"
         "                   [--node-name NAME] [--namespace NS]\n"
         "                   [--attach IFACE]... [--pin-root DIR]\n"
         "                   [--admin-socket PATH] [--metrics-addr HOST:PORT] "
         "[--detach-on-exit]\n"
         "                   [--cni-state-dir DIR]\n"
         "  --manifests DIR     standalone: the manifests of DIR, watched\n"
         "  --kubeconfig FILE   Kubernetes: the API server of FILE's current-context; without\n"
         "                      it and --manifests, in a pod (KUBERNETES_SERVICE_HOST set),\n"
         "                      the pod's service account\n"
         "  --node-name NAME    this node (the Lease identity); default $NODE_NAME, else the\n"
         "                      host name\n"
         "  --namespace NS      where the Lease lives; default $POD_NAMESPACE, else "
         "xgate-system\n"
         "  --cni-state-dir DIR the pod records xgate-cni writes (its stateDir); read at start,\n"
         "                      default /run/xgate/cni\n";
}

}  // namespace xgate::agent
