#include "userspace-proxy/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string_view>

#include "fmt/format.h"

namespace xgate::proxy {
namespace {

std::atomic<int> log_fd{STDOUT_FILENO};
std::string log_path;  // written only by Open (startup) and read by Reopen (signal thread)

}  // namespace

absl::Status AccessLog::Open(const std::string& path) {
  if (path == "off") {
    Disable();
    return absl::OkStatus();
  }
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

bool AccessLog::Enabled() { return log_fd.load(std::memory_order_relaxed) >= 0; }

namespace {

// Lines wait here until the worker's event loop ends its round (or the batch grows large),
// then go out in one write(2): whole lines only, so O_APPEND keeps them intact.
constexpr size_t kFlushAt = 32 * 1024;
thread_local std::string pending;

// Appends `text` as a JSON string; bytes that are not valid UTF-8 become U+FFFD.
void AppendJsonString(std::string_view text, std::string& out) {
  out += '"';
  // Most fields are plain printable ASCII: copy that prefix whole.
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    ++i;
  }
  out.append(text.data(), i);
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, then continuation bytes and no
    // overlong, surrogate or out-of-range forms.
    size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    bool valid = length != 0 && c <= 0xF4 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (valid && length >= 3) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      if (c == 0xE0 && second < 0xA0) valid = false;
      if (c == 0xED && second > 0x9F) valid = false;
      if (c == 0xF0 && second < 0x90) valid = false;
      if (c == 0xF4 && second > 0x8F) valid = false;
    }
    if (!valid) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  out += '"';
}

void AppendField(std::string_view name, std::string_view value, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
  AppendJsonString(value, out);
}

template <typename Number>
void AppendNumber(std::string_view name, Number value, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
  char digits[64];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;  // shortest form
  out.append(digits, end);
}

void AppendMillis(std::string_view name, double value, std::string& out) {
  if (!std::isfinite(value)) value = 0;
  AppendNumber(name, value, out);
}

}  // namespace

void AccessLog::Write(const AccessLogEntry& e) {
  if (log_fd.load(std::memory_order_relaxed) < 0) return;
  std::string& out = pending;
  out += "{\"client\":";
  AppendJsonString(e.client, out);
  AppendField("protocol", e.protocol, out);
  AppendField("method", e.method, out);
  AppendField("authority", e.authority, out);
  AppendField("path", e.path, out);
  AppendField("route", e.route, out);
  AppendNumber("rule", e.rule_index, out);
  AppendField("cluster", e.cluster, out);
  AppendField("endpoint", e.endpoint, out);
  AppendNumber("status", e.status, out);
  AppendNumber("bytes_in", e.bytes_in, out);
  AppendNumber("bytes_out", e.bytes_out, out);
  AppendMillis("duration_ms", e.duration_ms, out);
  AppendMillis("upstream_ms", e.upstream_duration_ms, out);
  if (!e.error.empty()) AppendField("error", e.error, out);
  out += "}\n";
  if (out.size() >= kFlushAt) Flush();
}

void AccessLog::Flush() {
  std::string& out = pending;
  if (out.empty()) return;
  int fd = log_fd.load(std::memory_order_relaxed);
  size_t done = 0;
  while (fd >= 0 && done < out.size()) {
    ssize_t n = write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk or a closed pipe: drop the batch, keep serving
    done += static_cast<size_t>(n);
  }
  out.clear();
}

}  // namespace xgate::proxy
