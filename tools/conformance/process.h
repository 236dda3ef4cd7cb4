// Child processes for the runner: commands run to completion (ip, xgatectl) and long-lived
// ones (echo pods, the agent), optionally inside a named network namespace. Long-lived
// children get SIGTERM when the runner dies, so none outlives it (unless told to, --keep).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace xgate::conformance {

struct CommandResult {
  int exit_code = -1;  // -1: killed or not run
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv (PATH searched) to completion within `timeout`; fails only when it cannot run.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(30));
// Runs argv and fails with its stderr unless it exits 0.
absl::Status RunOk(const std::vector<std::string>& argv);

// Starts argv in the background inside network namespace `netns` (a name under
// /var/run/netns; empty: the runner's own), stdout and stderr appended to `log_path`.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& netns,
                            const std::string& log_path);
// Lets children started from now on outlive the runner.
void LetChildrenOutlive();
// True while `pid` (a child) runs; when it has ended, `exit_code` gets its status.
bool Running(pid_t pid, int* exit_code = nullptr);
// SIGTERM, then SIGKILL after `grace`; reaps it.
void Stop(pid_t pid, absl::Duration grace = absl::Seconds(5));

// Directory of the running executable (where xgate-agent and xgatectl are found too).
std::string SelfDir();

// Set by SIGINT/SIGTERM; every wait of the runner checks it.
bool Interrupted();
void InstallSignalHandlers();
// Sleeps up to `d`, returning early (false) when interrupted.
bool SleepUnlessInterrupted(absl::Duration d);

}  // namespace xgate::conformance
