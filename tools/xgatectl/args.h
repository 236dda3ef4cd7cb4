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

// Parses argv (flags may come before or after the command, as --flag VALUE or --flag=VALUE).
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

std::string Usage();

}  // namespace xgate::ctl
