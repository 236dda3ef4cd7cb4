#include "userspace-proxy/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "nlohmann/json.hpp"

namespace xgate::proxy {
namespace {

std::atomic<int> log_fd{STDOUT_FILENO};
std::string log_path;  // written only by Open (startup) and read by Reopen (signal thread)

}  // namespace

absl::Status AccessLog::Open(const std::string& path) {
  log_path = path == "-" ? "" : path;
  if (log_path.empty()) {
    log_fd = STDOUT_FILENO;
    return absl::OkStatus();
  }
  int fd = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::InternalError("--access-log " + log_path + ": " + strerror(errno));
  log_fd = fd;
  return absl::OkStatus();
}

absl::Status AccessLog::Reopen() {
  if (log_path.empty()) return absl::OkStatus();
  int fd = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::InternalError("reopen " + log_path + ": " + strerror(errno));
  dup2(fd, log_fd.load());
  close(fd);
  return absl::OkStatus();
}

void AccessLog::Disable() { log_fd = -1; }

void AccessLog::Write(const AccessLogEntry& e) {
  int fd = log_fd.load(std::memory_order_relaxed);
  if (fd < 0) return;
  nlohmann::json line = {
      {"client", e.client},
      {"protocol", e.protocol},
      {"method", e.method},
      {"authority", e.authority},
      {"path", e.path},
      {"route", e.route},
      {"rule", e.rule_index},
      {"cluster", e.cluster},
      {"endpoint", e.endpoint},
      {"status", e.status},
      {"bytes_in", e.bytes_in},
      {"bytes_out", e.bytes_out},
      {"duration_ms", e.duration_ms},
      {"upstream_ms", e.upstream_duration_ms},
  };
  if (!e.error.empty()) line["error"] = e.error;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  [[maybe_unused]] ssize_t n = write(fd, text.data(), text.size());
}

}  // namespace xgate::proxy
