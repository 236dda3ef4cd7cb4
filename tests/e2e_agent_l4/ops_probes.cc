#include "tests/e2e_agent_l4/ops_probes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "tests/agent/prometheus_text.h"
#include "tests/e2e_agent_l4/topology.h"

namespace xgate::e2e {

CommandResult RunCommand(const std::string& cmd) {
  CommandResult result;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

namespace {

std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[8192];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, n);
  }
  close(fd);
  if (response.rfind("HTTP/1.1 200", 0) != 0) return "";
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace

std::string HttpGetInNs(const std::string& netns, uint16_t port, const std::string& path) {
  std::string body;
  std::thread t([&] {
    if (EnterNs(netns)) body = HttpGet(port, path);
  });
  t.join();
  return body;
}

std::map<Labels, double> Samples(const std::string& text, const std::string& name) {
  std::map<Labels, double> out;
  testing::PromText prom = testing::ParsePromText(text);
  if (!prom.error.empty()) return out;  // a malformed page: no samples
  for (const testing::PromSample& sample : prom.samples) {
    if (sample.name == name) out[sample.labels] += sample.value;
  }
  return out;
}

int SendUdp(const std::string& address, uint16_t port, int count) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  int sent = 0;
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) == 1) {
    for (int i = 0; i < count; ++i) {
      std::string msg = "query-" + std::to_string(i);
      if (sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
          static_cast<ssize_t>(msg.size())) {
        ++sent;
      }
    }
  }
  close(fd);
  return sent;
}

uint16_t LoggedMetricsPort(const std::string& log) {
  const std::string marker = "metrics on http://";
  size_t at = log.find(marker);
  if (at == std::string::npos) return 0;
  size_t slash = log.find("/metrics", at);
  size_t colon = log.rfind(':', slash);
  uint32_t port = 0;
  if (slash == std::string::npos || colon == std::string::npos || colon < at ||
      !absl::SimpleAtoi(log.substr(colon + 1, slash - colon - 1), &port) || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace xgate::e2e
