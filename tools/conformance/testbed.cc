#include "tools/conformance/testbed.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "tools/conformance/process.h"

namespace xgate::conformance {

absl::StatusOr<int> SocketInNamespace(int netns_fd, int domain, int type) {
  absl::StatusOr<int> result = absl::InternalError("not run");
  std::thread t([&] {
    // setns affects only this thread, which ends right after.
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      result = absl::InternalError(absl::StrCat("setns: ", std::strerror(errno)));
      return;
    }
    int fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
      return;
    }
    result = fd;
  });
  t.join();
  return result;
}

absl::StatusOr<std::unique_ptr<TestBed>> TestBed::Create(const std::string& suffix) {
  std::unique_ptr<TestBed> bed(new TestBed(suffix));
  if (absl::Status st = bed->Build(); !st.ok()) {
    bed->Teardown();
    return st;
  }
  return bed;
}

TestBed::~TestBed() { Teardown(); }

absl::Status TestBed::AddNamespace(const std::string& name) {
  if (absl::Status st = RunOk({"ip", "netns", "add", name}); !st.ok()) return st;
  namespaces_.push_back(name);
  return RunOk({"ip", "-n", name, "link", "set", "lo", "up"});
}

absl::Status TestBed::Build() {
  client_ns_ = absl::StrCat("xgc-", suffix_, "-client");
  node_ns_ = absl::StrCat("xgc-", suffix_, "-node");
  client_if_ = absl::StrCat("xgc", suffix_, "c");
  node_if_ = absl::StrCat("xgc", suffix_, "n");
  bridge_ = absl::StrCat("xgc", suffix_, "b");
  for (const std::string& ns : {client_ns_, node_ns_}) {
    if (absl::Status st = AddNamespace(ns); !st.ok()) return st;
  }
  const std::vector<std::vector<std::string>> cmds = {
      {"ip", "link", "add", client_if_, "netns", client_ns_, "type", "veth", "peer", "name",
       node_if_, "netns", node_ns_},
      {"ip", "-n", client_ns_, "addr", "add", "198.18.0.2/24", "dev", client_if_},
      {"ip", "-n", client_ns_, "link", "set", client_if_, "up"},
      {"ip", "-n", client_ns_, "route", "add", "198.18.100.0/24", "via", "198.18.0.1"},
      {"ip", "-n", node_ns_, "addr", "add", "198.18.0.1/24", "dev", node_if_},
      {"ip", "-n", node_ns_, "link", "set", node_if_, "up"},
      {"ip", "-n", node_ns_, "link", "add", bridge_, "type", "bridge"},
      {"ip", "-n", node_ns_, "addr", "add", "198.18.16.1/20", "dev", bridge_},
      {"ip", "-n", node_ns_, "link", "set", bridge_, "up"},
      {"ip", "netns", "exec", node_ns_, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
  };
  for (const auto& c : cmds) {
    if (absl::Status st = RunOk(c); !st.ok()) return st;
  }
  std::string path = absl::StrCat("/var/run/netns/", client_ns_);
  client_ns_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (client_ns_fd_ < 0) return absl::InternalError(absl::StrCat("cannot open ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestBed::AddPod(std::string* netns) {
  int n = next_pod_++;
  if (n >= 4000) return absl::ResourceExhaustedError("too many pods for 198.18.16.0/20");
  std::string ns = absl::StrCat("xgc-", suffix_, "-p", n);
  std::string host_if = absl::StrCat("xgc", suffix_, "p", n);
  int host = n + 2;
  std::string ip = absl::StrCat("198.18.", 16 + host / 256, ".", host % 256);
  if (absl::Status st = AddNamespace(ns); !st.ok()) return st;
  const std::vector<std::vector<std::string>> cmds = {
      {"ip", "link", "add", host_if, "netns", node_ns_, "type", "veth", "peer", "name", "eth0",
       "netns", ns},
      {"ip", "-n", node_ns_, "link", "set", host_if, "master", bridge_},
      {"ip", "-n", node_ns_, "link", "set", host_if, "up"},
      {"ip", "-n", ns, "addr", "add", ip + "/20", "dev", "eth0"},
      {"ip", "-n", ns, "link", "set", "eth0", "up"},
      {"ip", "-n", ns, "route", "add", "default", "via", "198.18.16.1"},
  };
  for (const auto& c : cmds) {
    if (absl::Status st = RunOk(c); !st.ok()) return st;
  }
  *netns = ns;
  return ip;
}

void TestBed::RemovePod(const std::string& netns) {
  auto it = std::find(namespaces_.begin(), namespaces_.end(), netns);
  if (it == namespaces_.end()) return;
  if (absl::Status st = RunOk({"ip", "netns", "del", netns}); !st.ok()) {
    spdlog::warn("removing {}: {}", netns, st.ToString());
  }
  namespaces_.erase(it);
}

void TestBed::Teardown() {
  if (client_ns_fd_ >= 0) {
    close(client_ns_fd_);
    client_ns_fd_ = -1;
  }
  while (!namespaces_.empty()) {
    std::string ns = namespaces_.back();
    namespaces_.pop_back();
    if (absl::Status st = RunOk({"ip", "netns", "del", ns}); !st.ok()) {
      spdlog::warn("removing {}: {}", ns, st.ToString());
    }
  }
}

std::vector<std::string> TestBed::Release() {
  std::vector<std::string> kept = namespaces_;
  namespaces_.clear();
  return kept;
}

SocketFactory TestBed::ClientSockets() const {
  int fd = client_ns_fd_;
  return [fd](int domain, int type) { return SocketInNamespace(fd, domain, type); };
}

}  // namespace xgate::conformance
