// xgatectl's command line: `xgatectl [--socket PATH] COMMAND [ARGS...] [-f FILE] [-o FORMAT]`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::ctl {

inline constexpr char kDefaultSocket[] = "/run/xgate/admin.sock";

struct Args {
  std::string command;                  // check, get, status, explain, apply, delete, help
  std::vector<std::string> positional;  // what follows the command (get's resource, ...)
  std::string file;                     // -f / --filename
  std::string output;                   // -o / --output: "", "json" or "yaml"
  std::string socket = kDefaultSocket;  // --socket
};

// Parses argv (flags may come before or after the command, as --flag VALUE or --flag=VALUE).
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

std::string Usage();

}  // namespace xgate::ctl
