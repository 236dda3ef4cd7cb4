// The real xgate-agent binary as a child process in a network namespace, and its admin API.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/admin.grpc.pb.h"

namespace xgate::e2e {

// Generous: the machine is shared; each step takes well under a second when it passes.
inline constexpr auto kDeadline = std::chrono::seconds(20);

class AgentProcess {
 public:
  // Starts XGATE_AGENT_PATH with `args` inside the network namespace `netns` (the mount
  // namespace is this process's), stdout and stderr appended to `log`. Null on failure.
  static std::unique_ptr<AgentProcess> Start(const std::string& netns,
                                             const std::vector<std::string>& args,
                                             const std::filesystem::path& log);
  ~AgentProcess();  // SIGKILL if still running

  bool Signal(int sig) const;
  // The exit status (code, or 128 + signal) once the process ended, up to the deadline; -1.
  int WaitForExit();
  pid_t pid() const { return pid_; }

 private:
  explicit AgentProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

class AdminClient {
 public:
  explicit AdminClient(const std::string& socket_path);
  // GetState once (1 s at most); nullopt when the agent does not answer.
  std::optional<api::GetStateResponse> State();
  std::optional<api::GetSnapshotResponse> Snapshot();
  // Polls until a snapshot newer than `after` is applied and no change is pending an
  // error; its generation, or 0 at the deadline.
  uint64_t WaitApplied(uint64_t after = 0);

 private:
  void Reconnect();
  std::string socket_path_;
  std::unique_ptr<api::Admin::Stub> stub_;
};

}  // namespace xgate::e2e
