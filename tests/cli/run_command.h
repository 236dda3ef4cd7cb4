// Runs a shell command line for a test: its exit code and what it printed (stdout then
// stderr, both captured).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace xgate::testing_cli {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

inline CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer;
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
    r.output.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace xgate::testing_cli
