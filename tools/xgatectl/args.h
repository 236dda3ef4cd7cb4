// xgatectl's command line (CLI11): `xgatectl [--socket PATH] COMMAND [ARGS...] [FLAGS]`, also
// run by kubectl as the plugin `kubectl xgate` (the binary named kubectl-xgate).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/binder/binder.h"

namespace CLI {
class App;
}

namespace xgate::ctl {

inline constexpr char kDefaultSocket[] = "/run/xgate/admin.sock";

struct Args {
  std::string command;                  // check, get, status, explain, apply, delete, completion
  std::vector<std::string> positional;  // what follows the command (get's resource and name, ...)
  std::string file;                     // -f / --filename
  std::string output;                   // -o / --output: "", "json" or "yaml"
  // check --max-gateway-listeners N: as xgate-agent's flag.
  size_t max_gateway_listeners = binder::kDefaultMaxGatewayListeners;
  bool wide = false;                    // -o wide: the table with more columns
  std::string socket = kDefaultSocket;  // --socket (kubectl's -s / --server)
  // --node NODE: run in the xgate-agent pod on NODE (kubectl exec), found with kubectl's
  // --kubeconfig and --context in --agent-namespace.
  std::string node;
  std::string kubeconfig;
  std::string context;
  std::string agent_namespace = "xgate-system";
  // get
  std::string resource;         // TYPE (also positional[0])
  std::string name;             // NAME: only the objects of this name
  bool all_namespaces = false;  // -A / --all-namespaces (the default: every namespace)
  std::string ns;               // -n / --namespace: only this namespace ("": every one, as -A)
  std::string selector;         // -l / --selector: label selector, as kubectl's
  bool no_headers = false;
  // explain request
  std::string listener;              // --listener ADDR:PORT
  std::string sni;                   // --sni NAME
  std::string host;                  // --host H
  std::string method;                // --method M
  std::string path;                  // --path P
  std::vector<std::string> headers;  // -H / --header 'Name: value', repeatable
  // explain packet
  std::string src;    // --src ADDR:PORT
  std::string dst;    // --dst ADDR:PORT
  std::string proto;  // --proto tcp|udp
  // get conntrack
  std::string limit;  // --limit N
};

// The resources `get` reads.
inline const std::vector<std::string>& GetResources() {
  static const std::vector<std::string> kResources = {"gateways",  "routes",   "backends", "status",
                                                      "conntrack", "counters", "pods"};
  return kResources;
}

// Every command and flag on `app`, written into `args` when it parses.
void AddCommands(CLI::App& app, Args& args);
// After parsing: the command and its positional words from the subcommands that ran.
void FinishArgs(const CLI::App& app, Args& args);
// Both, on argv (argv[0] is the program); the error names the flag.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

// "kubectl xgate" when argv[0] is kubectl-xgate (kubectl's plugin naming), else "xgatectl".
std::string ProgramName(const std::string& argv0);

}  // namespace xgate::ctl
