#include "tools/xgatectl/node.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace xgate::ctl {
namespace {

constexpr const char* kNodeFlags[] = {"--node", "--kubeconfig", "--context", "--agent-namespace"};

std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buffer, n);
  }
  return out;
}

}  // namespace

std::vector<std::string> KubectlBase(const Args& args) {
  std::vector<std::string> command = {"kubectl"};
  if (!args.kubeconfig.empty()) command.insert(command.end(), {"--kubeconfig", args.kubeconfig});
  if (!args.context.empty()) command.insert(command.end(), {"--context", args.context});
  command.insert(command.end(), {"-n", args.agent_namespace});
  return command;
}

absl::StatusOr<std::string> RunCapture(const std::vector<std::string>& command) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError(std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) return absl::InternalError(std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    dprintf(2, "%s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  std::string text = ReadAll(out[0]);  // kubectl's answers are small: stderr cannot fill first
  std::string error = ReadAll(err[0]);
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string last(absl::StripTrailingAsciiWhitespace(error));
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    return absl::UnavailableError(absl::StrCat(absl::StrJoin(command, " "), " failed (exit ",
                                               WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                               "): ", last));
  }
  return text;
}

absl::StatusOr<std::string> FindAgentPod(const Args& args) {
  std::vector<std::string> command = KubectlBase(args);
  command.insert(command.end(),
                 {"get", "pods", "-l", "app.kubernetes.io/name=xgate-agent", "-o", "json"});
  auto text = RunCapture(command);
  if (!text.ok()) return text.status();
  auto list = nlohmann::json::parse(*text, nullptr, false);
  if (list.is_discarded() || !list.contains("items")) {
    return absl::InternalError(absl::StrJoin(command, " ") + ": not a list");
  }
  std::string found;
  for (const auto& pod : list["items"]) {
    // spec.nodeName matched here: not every API server takes it as a field selector.
    if (pod.value("spec", nlohmann::json::object()).value("nodeName", "") != args.node) continue;
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    std::string name = pod["metadata"].value("name", "");
    bool running = pod.value("status", nlohmann::json::object()).value("phase", "") == "Running";
    if (found.empty() || running) found = name;
    if (running) break;
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat("no xgate-agent pod on node ", args.node,
                                            " in namespace ", args.agent_namespace,
                                            " (label app.kubernetes.io/name=xgate-agent)"));
  }
  return found;
}

std::vector<std::string> ForwardedArgs(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    bool node_flag = false;
    for (const char* flag : kNodeFlags) {
      if (argv[i] == flag) {
        node_flag = true;
        ++i;  // and its value
      } else if (argv[i].rfind(std::string(flag) + "=", 0) == 0) {
        node_flag = true;
      }
      if (node_flag) break;
    }
    if (!node_flag) out.push_back(argv[i]);
  }
  return out;
}

std::vector<std::string> ExecCommand(const Args& args, const std::string& pod,
                                     const std::vector<std::string>& forwarded) {
  std::vector<std::string> command = KubectlBase(args);
  command.insert(command.end(), {"exec", pod, "-c", "agent"});
  if (args.file == "-") command.push_back("-i");
  command.insert(command.end(), {"--", "xgatectl"});
  command.insert(command.end(), forwarded.begin(), forwarded.end());
  return command;
}

std::vector<std::string> NamesOnNode(const Args& args, const std::string& what) {
  auto pod = FindAgentPod(args);
  if (!pod.ok()) return {};
  std::vector<std::string> get = {"get", what, "-o", "name", "--socket", args.socket};
  if (!args.ns.empty()) get.insert(get.end(), {"-n", args.ns});
  if (!args.selector.empty()) get.insert(get.end(), {"-l", args.selector});
  auto text = RunCapture(ExecCommand(args, *pod, get));
  if (!text.ok()) return {};
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    names.emplace_back(line.substr(line.find('/') + 1));
  }
  return names;
}

int RunOnNode(const Args& args, const std::vector<std::string>& argv, std::ostream& err) {
  auto pod = FindAgentPod(args);
  if (!pod.ok()) {
    err << "xgatectl --node " << args.node << ": " << pod.status().message() << "\n";
    return 1;
  }
  std::vector<std::string> command = ExecCommand(args, *pod, ForwardedArgs(argv));
  std::vector<char*> exec_argv;
  for (auto& a : command) exec_argv.push_back(a.data());
  exec_argv.push_back(nullptr);
  execvp(exec_argv[0], exec_argv.data());
  err << "xgatectl --node: kubectl: " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace xgate::ctl
