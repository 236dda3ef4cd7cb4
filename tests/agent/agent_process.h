// Runs xgate-agent as a child process with its log in a file, for tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/fixtures/fixtures.h"

namespace xgate {

// Generous: the machine is shared; a passing run takes well under a second per step.
inline constexpr auto kDeadline = std::chrono::seconds(30);

class AgentProcess {
  using steady_clock = std::chrono::steady_clock;
  using path = std::filesystem::path;

 public:
  AgentProcess(std::vector<std::string> args, const path& log) : log_(log) {
    args.insert(args.begin(), XGATE_AGENT_PATH);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  // SIGTERM first, so the agent stops the proxy it started (a SIGKILLed agent leaves its
  // proxy running, serving the last config, as on a node); SIGKILL after a bounded wait.
  ~AgentProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (auto end = steady_clock::now() + std::chrono::seconds(10); steady_clock::now() < end;) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  std::string Log() const {
    std::error_code ec;
    return std::filesystem::exists(log_, ec) ? fixtures::ReadFile(log_) : "";
  }

  // Polls the log until it contains `text`, up to the deadline.
  bool WaitForLog(const std::string& text) const {
    for (auto end = steady_clock::now() + kDeadline; steady_clock::now() < end;) {
      if (Log().find(text) != std::string::npos) return true;
      if (Exited()) return Log().find(text) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // The first log line containing `text` (waiting for it as WaitForLog does), or "".
  std::string WaitForLine(const std::string& text) const {
    if (!WaitForLog(text)) return "";
    std::string log = Log();
    size_t at = log.find(text);
    size_t begin = log.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return log.substr(begin, log.find('\n', at) - begin);
  }

  // The exit code once the process ended (up to the deadline), or -1.
  int WaitForExit() {
    for (auto end = steady_clock::now() + kDeadline; steady_clock::now() < end;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  pid_t pid() const { return pid_; }

 private:
  bool Exited() const { return pid_ <= 0 || kill(pid_, 0) != 0; }
  path log_;
  pid_t pid_ = -1;
};

}  // namespace xgate
