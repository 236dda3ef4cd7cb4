#include "tests/e2e_agent_l4/topology.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "maps/egress.h"
#include "maps/names.h"
#include "maps/pins.h"
#include "maps/typed_map.h"

namespace xgate::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string PeerText(const sockaddr_in6& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
    inet_ntop(AF_INET, &a.sin6_addr.s6_addr[12], buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

bool WaitFor(int fd, short events, int ms) {
  pollfd pf{fd, events, 0};
  return poll(&pf, 1, ms) > 0;
}

}  // namespace

bool LineEcho::Start() {
  std::atomic<int> ready{0};
  thread_ = std::thread([this, &ready] {
    int fd = -1;
    if (EnterNs(netns_)) fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(port_);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd, 512) != 0) {
      if (fd >= 0) close(fd);
      ready = -1;
      return;
    }
    ready = 1;
    Serve(fd);
  });
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (ready == 0 && Clock::now() < deadline) std::this_thread::yield();
  return ready == 1;
}

void LineEcho::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void LineEcho::Serve(int listener) {
  struct Conn {
    std::string peer;
    std::string pending;
  };
  std::map<int, Conn> conns;
  while (!stop_) {
    std::vector<pollfd> fds{{listener, POLLIN, 0}};
    for (const auto& [fd, c] : conns) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      sockaddr_in6 peer{};
      socklen_t len = sizeof(peer);
      int c = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c >= 0) conns[c].peer = PeerText(peer);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      Conn& conn = conns[fd];
      char buf[512];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        close(fd);
        conns.erase(fd);
        continue;
      }
      conn.pending.append(buf, n);
      for (size_t nl; (nl = conn.pending.find('\n')) != std::string::npos;) {
        std::string reply = pod_ + " " + conn.peer + " " + conn.pending.substr(0, nl) + "\n";
        conn.pending.erase(0, nl + 1);
        (void)!send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
    }
  }
  for (const auto& [fd, c] : conns) close(fd);
  close(listener);
}

void Topology::Remove() {
  for (auto& e : echoes_) e->Stop();
  echoes_.clear();
  for (const std::string& ns : namespaces_) Sh("ip netns del " + ns);
}

std::string Topology::Create(const std::vector<Pod>& pods, bool napi) {
  static int serial = 0;
  std::string id = std::to_string(getpid()) + "-" + std::to_string(++serial);
  client_ = "xgae-c-" + id;
  node_ = "xgae-n-" + id;
  std::vector<std::string> pod_ns;
  for (size_t i = 0; i < pods.size(); ++i) {
    pod_ns.push_back("xgae-p" + std::to_string(i + 1) + "-" + id);
  }
  std::vector<std::string> all = {client_, node_};
  all.insert(all.end(), pod_ns.begin(), pod_ns.end());
  for (const std::string& ns : all) {
    if (!Sh("ip netns add " + ns)) return "ip netns add " + ns;
    namespaces_.push_back(ns);
    if (!Sh("ip -n " + ns + " link set lo up")) return "lo up in " + ns;
    // No duplicate address detection: link-local addresses usable at once, so the first
    // IPv6 packets are not lost to neighbour discovery waiting on a tentative address.
    if (!Sh("ip netns exec " + ns + " sysctl -qw net.ipv6.conf.default.accept_dad=0")) {
      return "accept_dad in " + ns;
    }
  }
  const std::string c = "ip -n " + client_ + " ", n = "ip -n " + node_ + " ";
  std::vector<std::string> cmds = {
      c + "link add c0 type veth peer name n0 netns " + node_,
      c + "addr add 198.18.0.2/24 dev c0",
      c + "-6 addr add fd00::2/64 dev c0 nodad",
      n + "addr add 198.18.0.1/24 dev n0",
      n + "-6 addr add fd00::1/64 dev n0 nodad",
      c + "link set c0 up",
      n + "link set n0 up",
      c + "route add default via 198.18.0.1",
      c + "-6 route add default via fd00::1",
      "ip netns exec " + node_ + " sysctl -qw net.ipv4.ip_forward=1",
      "ip netns exec " + node_ + " sysctl -qw net.ipv6.conf.all.forwarding=1",
  };
  for (size_t i = 0; i < pods.size(); ++i) {
    const std::string p = absl::StrCat("p", i + 1), e = absl::StrCat("ip -n ", pod_ns[i], " ");
    std::vector<std::string> more = {
        e + "link add e0 type veth peer name " + p + " netns " + node_,
        e + "addr add " + pods[i].v4 + "/24 dev e0",
        e + "-6 addr add " + pods[i].v6 + "/64 dev e0 nodad",
        e + "link set e0 up",
        e + "route add default via 198.18.3.1",
        e + "-6 route add default via fd00:3::1",
        n + "addr add 198.18.3.1/32 dev " + p,
        n + "-6 addr add fd00:3::1/128 dev " + p + " nodad",
        n + "link set " + p + " up",
        n + "route add " + pods[i].v4 + "/32 dev " + p,
        n + "-6 route add " + pods[i].v6 + "/128 dev " + p,
    };
    cmds.insert(cmds.end(), more.begin(), more.end());
  }
  for (const std::string& cmd : cmds) {
    if (!Sh(cmd)) return "failed: " + cmd;
  }
  pods_ = pods.size();
  pod_namespaces_ = pod_ns;
  // The NAPI variant: XDP_PASS on the far ends the node redirects into, from this thread,
  // which then goes back to the namespace it started in.
  std::string why;
  for (size_t i = 0; napi && why.empty() && i < pods.size(); ++i) {
    why = InNamespace(pod_ns[i], [] { return AttachXdpPass("e0"); })
              ? ""
              : "XDP_PASS on e0 in " + pod_ns[i];
  }
  if (!why.empty()) return why;
  for (size_t i = 0; i < pods.size(); ++i) {
    echoes_.push_back(std::make_unique<LineEcho>(pod_ns[i], pods[i].name, 5432));
    if (!echoes_.back()->Start()) return "echo server for " + pods[i].name;
  }
  return "";
}

bool Topology::SetPodGro(size_t i, bool on) {
  return i < pod_namespaces_.size() &&
         InNamespace(pod_namespaces_[i], [on] { return SetGro("e0", on); });
}

bool Topology::WaitPodEgress(const std::string& pin_root, size_t i, bool xmit) {
  unsigned ifindex = 0;
  std::string ifname = absl::StrCat("p", i + 1);
  if (!InNamespace(node_, [&] { return (ifindex = if_nametoindex(ifname.c_str())) != 0; }))
    return false;
  int fd = bpf_obj_get(maps::PinPath(pin_root, maps::kEgress).c_str());
  if (fd < 0) return false;
  bool reached = false;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !reached && std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    xg_egress e{};
    bool takes = bpf_map_lookup_elem(fd, &ifindex, &e) == 0 && (e.flags & XG_EGRESS_XDP_XMIT);
    reached = takes == xmit;
  }
  close(fd);
  return reached;
}

std::vector<std::string> Topology::NodeInterfaces() const {
  std::vector<std::string> out = {"n0"};
  for (size_t i = 1; i <= pods_; ++i) out.push_back(absl::StrCat("p", i));
  return out;
}

bool Topology::AllRemoved() const {
  for (const std::string& ns : namespaces_) {
    std::error_code ec;
    if (std::filesystem::exists("/run/netns/" + ns, ec)) return false;
  }
  return true;
}

std::unique_ptr<TcpConn> TcpConn::Open(const std::string& address, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (address.find(':') != std::string::npos) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (inet_pton(AF_INET6, address.c_str(), &a.sin6_addr) != 1) return nullptr;
    len = sizeof(a);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) return nullptr;
    len = sizeof(a);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return nullptr;
  std::unique_ptr<TcpConn> conn(new TcpConn(fd));
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return nullptr;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  if (!WaitFor(fd, POLLOUT, 3000) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
      err != 0) {
    return nullptr;
  }
  return conn;
}

TcpConn::~TcpConn() { close(fd_); }

uint16_t TcpConn::local_port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                        : reinterpret_cast<sockaddr_in&>(ss).sin_port);
}

std::string TcpConn::Exchange(const std::string& msg) {
  std::string out = msg + "\n";
  if (send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    return "";
  }
  auto deadline = Clock::now() + std::chrono::seconds(3);
  while (buffered_.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !WaitFor(fd_, POLLIN, static_cast<int>(left.count()))) return "";
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return "";
    buffered_.append(buf, n);
  }
  size_t nl = buffered_.find('\n');
  std::string line = buffered_.substr(0, nl);
  buffered_.erase(0, nl + 1);
  return line;
}

void PrintFastPathCounters(const std::filesystem::path& pin_root) {
  auto print = [&](std::string_view map, uint32_t count, auto name) {
    auto counters = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root.string(), map));
    for (uint32_t i = 0; counters.ok() && i < count; ++i) {
      auto t = counters->Read(i);
      if (t.ok() && t->packets) {
        std::printf("%s %s: %llu packets\n", std::string(map).c_str(), std::string(name(i)).c_str(),
                    static_cast<unsigned long long>(t->packets));
      }
    }
  };
  print(maps::kPathStats, XG_PATH_MAX, maps::PathName);
  print(maps::kDropStats, XG_DROP_MAX, maps::DropName);
}

}  // namespace xgate::e2e
