#include "tools/conformance/testbed.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

absl::Status PrepareSender(const std::string& netns, const std::string& ifname) {
  std::string path = absl::StrCat("/var/run/netns/", netns);
  int ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) return absl::NotFoundError(absl::StrCat("no network namespace ", netns));
  absl::Status result;
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      result = absl::InternalError(absl::StrCat("setns ", netns, ": ", std::strerror(errno)));
      return;
    }
    // Checksums filled in by the sender: a packet the kernel fast path rewrites and
    // redirects loses the skb's "checksum to be completed" mark on the way.
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ethtool_value ev{};
    ev.cmd = ETHTOOL_STXCSUM;
    ev.data = 0;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ev);
    bool csum_off = s >= 0 && ioctl(s, SIOCETHTOOL, &ifr) == 0;
    if (s >= 0) close(s);
    if (!csum_off) {
      result = absl::InternalError(absl::StrCat("tx checksum off on ", ifname, " in ", netns));
      return;
    }
    // A veth end takes native XDP redirects only with an XDP program of its own.
    bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "xgc_pass", "GPL", insns, 2, nullptr);
    int rc = prog < 0 ? prog
                      : bpf_xdp_attach(static_cast<int>(if_nametoindex(ifname.c_str())), prog,
                                       XDP_FLAGS_DRV_MODE, nullptr);
    if (prog >= 0) close(prog);
    if (rc != 0) {
      result = absl::InternalError(
          absl::StrCat("XDP_PASS on ", ifname, " in ", netns, ": ", std::strerror(-rc)));
    }
  });
  t.join();
  close(ns_fd);
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
      {"ip", "netns", "exec", node_ns_, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
  };
  for (const auto& c : cmds) {
    if (absl::Status st = RunOk(c); !st.ok()) return st;
  }
  std::string path = absl::StrCat("/var/run/netns/", client_ns_);
  client_ns_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (client_ns_fd_ < 0) return absl::InternalError(absl::StrCat("cannot open ", path));
  return PrepareSender(client_ns_, client_if_);
}

absl::StatusOr<std::string> TestBed::AddPod(std::string* netns) {
  int n = 0;
  while (pod_slots_.contains(n)) ++n;
  if (n >= 256) return absl::ResourceExhaustedError("more than 256 pods at once");
  std::string ns = absl::StrCat("xgc-", suffix_, "-p", n);
  std::string host_if = absl::StrCat("xgc", suffix_, "p", n);
  std::string net = absl::StrCat("198.19.", n, ".");
  if (absl::Status st = AddNamespace(ns); !st.ok()) return st;
  pod_slots_[n] = ns;
  const std::vector<std::vector<std::string>> cmds = {
      {"ip", "link", "add", host_if, "netns", node_ns_, "type", "veth", "peer", "name", "eth0",
       "netns", ns},
      {"ip", "-n", node_ns_, "addr", "add", net + "1/24", "dev", host_if},
      {"ip", "-n", node_ns_, "link", "set", host_if, "up"},
      {"ip", "-n", ns, "addr", "add", net + "2/24", "dev", "eth0"},
      {"ip", "-n", ns, "link", "set", "eth0", "up"},
      {"ip", "-n", ns, "route", "add", "default", "via", net + "1"},
  };
  for (const auto& c : cmds) {
    if (absl::Status st = RunOk(c); !st.ok()) return st;
  }
  if (absl::Status st = PrepareSender(ns, "eth0"); !st.ok()) return st;
  *netns = ns;
  return net + "2";
}

void StopNamespaceProcesses(const std::string& netns) {
  absl::StatusOr<CommandResult> r = RunCommand({"ip", "netns", "pids", netns});
  if (!r.ok() || r->exit_code != 0) return;
  std::vector<pid_t> pids;
  for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipWhitespace())) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 1 && pid != getpid()) pids.push_back(pid);
  }
  for (pid_t pid : pids) kill(pid, SIGTERM);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (pid_t pid : pids) {
    while (kill(pid, 0) == 0 && absl::Now() < deadline) {
      waitpid(pid, nullptr, WNOHANG);  // reaps it when it is our child
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (kill(pid, 0) == 0) {
      spdlog::warn("pid {} in {} ignored SIGTERM; killing it", pid, netns);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, WNOHANG);
    }
  }
}

void TestBed::RemovePod(const std::string& netns) {
  auto it = std::find(namespaces_.begin(), namespaces_.end(), netns);
  if (it == namespaces_.end()) return;
  StopNamespaceProcesses(netns);
  if (absl::Status st = RunOk({"ip", "netns", "del", netns}); !st.ok()) {
    spdlog::warn("removing {}: {}", netns, st.ToString());
  }
  namespaces_.erase(it);
  for (auto slot = pod_slots_.begin(); slot != pod_slots_.end(); ++slot) {
    if (slot->second == netns) {
      pod_slots_.erase(slot);
      break;
    }
  }
}

void TestBed::Teardown() {
  if (client_ns_fd_ >= 0) {
    close(client_ns_fd_);
    client_ns_fd_ = -1;
  }
  while (!namespaces_.empty()) {
    std::string ns = namespaces_.back();
    namespaces_.pop_back();
    StopNamespaceProcesses(ns);
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
