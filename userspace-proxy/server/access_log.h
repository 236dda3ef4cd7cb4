// One JSON line per request, to stdout or a file. Each thread batches its lines and writes
// them with a single write(2) on an O_APPEND descriptor when its event loop ends a round
// (Flush), so workers need no lock; Reopen() (on SIGHUP) swaps the file
// under the same descriptor number with dup2, which is atomic.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace xgate::proxy {

struct AccessLogEntry {
  std::string client;    // "address:port"
  std::string protocol;  // "HTTP/1.1", "HTTP/2", "TLS"
  std::string method;
  std::string authority;
  std::string path;
  std::string route;  // "ns/name", "" when no route matched
  int rule_index = -1;
  std::string cluster;
  std::string endpoint;  // "address:port" of the upstream that answered
  int status = 0;
  uint64_t bytes_in = 0;            // request body bytes
  uint64_t bytes_out = 0;           // response body bytes
  double duration_ms = 0;           // first request byte to last response byte
  double upstream_duration_ms = 0;  // upstream request start to its response head
  std::string error;  // why the proxy answered itself ("no route", "connect failed", ...)
};

class AccessLog {
 public:
  // "" or "-" means stdout, "off" no access log.
  static absl::Status Open(const std::string& path);
  // False after Open("off") or Disable(): callers may skip gathering what only the log uses.
  static bool Enabled();
  static absl::Status Reopen();
  // Queues the line on this thread; Flush (the event loop calls it every round) writes it.
  static void Write(const AccessLogEntry& entry);
  static void Flush();
  // For tests: stop writing anywhere.
  static void Disable();
};

}  // namespace xgate::proxy
