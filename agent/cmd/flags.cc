#include "agent/cmd/flags.h"

#include <unistd.h>

#include <cstdlib>

#include "tools/version/command_line.h"

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

void AddAgentFlags(CLI::App& app, AgentFlags& flags) {
  app.description(
      "The xgate node agent: compiles Gateway API objects from a watched folder (standalone) or "
      "the Kubernetes API into the kernel fast path and xgate-proxy.");
  app.add_option("--manifests", flags.manifests,
                 "Standalone: the manifests of DIR, watched (inotify)")
      ->type_name("DIR");
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "Kubernetes: the API server of FILE's current-context; without it and "
                 "--manifests, in a pod (KUBERNETES_SERVICE_HOST set), the pod's service account")
      ->type_name("FILE");
  app.add_option("--node-name", flags.node_name,
                 "This node (the Lease identity); default $NODE_NAME, else the host name")
      ->type_name("NAME");
  app.add_option("--namespace", flags.ns,
                 "Where the Lease lives; default $POD_NAMESPACE, else xgate-system")
      ->type_name("NS");
  app.add_option("--attach", flags.attach,
                 "Load the XDP/TC programs on IFACE (repeat the flag for more interfaces)")
      ->type_name("IFACE")
      ->allow_extra_args(false);
  app.add_option("--pin-root", flags.pin_root, "Where the BPF maps and links are pinned")
      ->type_name("DIR")
      ->capture_default_str();
  app.add_option("--admin-socket", flags.admin_socket,
                 "The admin API's unix socket (xgatectl --socket); proxy.sock goes beside it")
      ->type_name("PATH")
      ->capture_default_str();
  app.add_option("--metrics-addr", flags.metrics_addr,
                 "Serve /metrics, /healthz and /readyz on HOST:PORT; default: none")
      ->type_name("HOST:PORT");
  app.add_option("--proxy-user", flags.proxy_user,
                 "Start xgate-proxy as this user (a name or a numeric uid; it keeps only "
                 "NET_BIND_SERVICE, NET_ADMIN and BPF): its sockets go in a folder of its own, "
                 "proxy/ beside the admin socket; needs CAP_CHOWN, CAP_SETUID and CAP_SETGID")
      ->type_name("USER");
  app.add_option("--max-gateway-listeners", flags.max_gateway_listeners,
                 "The most listeners a Gateway serves with its ListenerSets' entries (its own "
                 "first, then the ListenerSets oldest first): an entry beyond is Accepted False "
                 "TooManyListeners")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--detach-on-exit", flags.detach_on_exit,
               "On SIGTERM remove programs, maps and the proxy (default: leave them serving)");
  app.add_option("--cni-state-dir", flags.cni_state_dir,
                 "The pod records xgate-cni writes (its stateDir), read at start")
      ->type_name("DIR")
      ->capture_default_str();
  cli::AddVersionFlag(app);
}

absl::Status ResolveAgentFlags(AgentFlags& flags, const EnvLookup& env_lookup) {
  EnvLookup env = env_lookup ? env_lookup : EnvLookup(&ProcessEnv);
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
  return absl::OkStatus();
}

absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv,
                                           const EnvLookup& env) {
  AgentFlags flags;
  CLI::App app("", "xgate-agent");
  AddAgentFlags(app, flags);
  if (absl::Status s = cli::ParseToStatus(app, argv); !s.ok()) return s;
  if (absl::Status s = ResolveAgentFlags(flags, env); !s.ok()) return s;
  return flags;
}

}  // namespace xgate::agent
