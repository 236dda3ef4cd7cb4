// `xgatectl --node NODE ...` (as the plugin: `kubectl xgate --node NODE ...`): the command runs
// in the xgate-agent pod on that node, as Cilium's docs run cilium-dbg:
//   kubectl -n xgate-system exec POD -c agent -- xgatectl ...
// The pod is found through kubectl itself (label app.kubernetes.io/name=xgate-agent, then
// spec.nodeName), with --kubeconfig and --context passed on to every kubectl it runs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/xgatectl/args.h"

namespace xgate::ctl {

// kubectl [--kubeconfig F] [--context C] -n AGENT_NS
std::vector<std::string> KubectlBase(const Args& args);

// The name of the agent pod on args.node (a running one first).
absl::StatusOr<std::string> FindAgentPod(const Args& args);

// `argv` (after the program name) without the flags that pick the node (--node, --kubeconfig,
// --context, --agent-namespace): what xgatectl in the pod gets.
std::vector<std::string> ForwardedArgs(const std::vector<std::string>& argv);

// The kubectl exec command line for `forwarded` in `pod` (-i when a file comes from stdin).
std::vector<std::string> ExecCommand(const Args& args, const std::string& pod,
                                     const std::vector<std::string>& forwarded);

// `get WHAT -o name` in the node's agent pod: the names, for completion; none on any failure.
std::vector<std::string> NamesOnNode(const Args& args, const std::string& what);

// Finds the pod and replaces this process with kubectl exec; returns (1) only when it cannot.
int RunOnNode(const Args& args, const std::vector<std::string>& argv, std::ostream& err);

// Runs `command` (argv[0] looked up on PATH) and returns its stdout; an error with its exit
// status and stderr's last line when it fails.
absl::StatusOr<std::string> RunCapture(const std::vector<std::string>& command);

}  // namespace xgate::ctl
