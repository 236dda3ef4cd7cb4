// client ns --- node ns (XDP on every veth, TC reverse NAT on ingress) --- backend ns x2
//
// 198.18.0.2 c0 <-> n0 198.18.0.1   n1 198.18.1.1 <-> b1 198.18.1.2 (backend "b1")
//                                   n2 198.18.2.1 <-> b2 198.18.2.2 (backend "b2")
// The Gateway address 198.18.100.10 / fd00:100::10 exists only in the fast path's maps.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/compiler/snapshot.h"
#include "agent/l4/l4_applier.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/bpf/l4_listener.h"
#include "tests/netns/netns.h"

namespace xgate {
namespace {

using Clock = std::chrono::steady_clock;

using e2e::EnterNs;
using e2e::PrivilegeRequired;
using e2e::Sh;

// Full checksums on transmit, so receivers verify what the fast path rewrote.
bool TxChecksumOff(const char* ifname) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  ethtool_value ev{};
  ev.cmd = ETHTOOL_STXCSUM;
  ev.data = 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  bool ok = ioctl(s, SIOCETHTOOL, &ifr) == 0;
  close(s);
  return ok;
}

std::string PeerText(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
  } else {
    auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss);
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
      inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a6.sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

// A backend: TCP on [::]:5432 answers "<name> <client address>\n" then echoes one read;
// UDP on [::]:5353 answers each datagram with "<name> <client address>".
class Backend {
 public:
  Backend(std::string ns, std::string name) : ns_(std::move(ns)), name_(std::move(name)) {}
  ~Backend() { Stop(); }

  bool Start() {
    std::atomic<int> ready{0};
    thread_ = std::thread([this, &ready] {
      if (!EnterNs(ns_) || !Listen()) {
        ready = -1;
        return;
      }
      ready = 1;
      Serve();
    });
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (ready == 0 && Clock::now() < deadline) std::this_thread::yield();
    return ready == 1;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (tcp_ >= 0) close(tcp_);
    if (udp_ >= 0) close(udp_);
    tcp_ = udp_ = -1;
  }

 private:
  bool Listen() {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    int one = 1;
    tcp_ = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    addr.sin6_port = htons(5432);
    if (bind(tcp_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) || listen(tcp_, 512))
      return false;
    udp_ = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    addr.sin6_port = htons(5353);
    return bind(udp_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  void Serve() {
    while (!stop_) {
      pollfd fds[2] = {{tcp_, POLLIN, 0}, {udp_, POLLIN, 0}};
      if (poll(fds, 2, 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        sockaddr_storage peer{};
        socklen_t len = sizeof(peer);
        int c = accept4(tcp_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c >= 0) {
          std::string hello = name_ + " " + PeerText(peer) + "\n";
          (void)!send(c, hello.data(), hello.size(), MSG_NOSIGNAL);
          pollfd pf{c, POLLIN, 0};
          char buf[256];
          if (poll(&pf, 1, 2000) > 0) {
            ssize_t n = recv(c, buf, sizeof(buf), 0);
            if (n > 0) (void)!send(c, buf, n, MSG_NOSIGNAL);
          }
          close(c);
        }
      }
      if (fds[1].revents & POLLIN) {
        sockaddr_storage peer{};
        socklen_t len = sizeof(peer);
        char buf[256];
        ssize_t n = recvfrom(udp_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n >= 0) {
          std::string answer = name_ + " " + PeerText(peer);
          sendto(udp_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
        }
      }
    }
  }

  std::string ns_, name_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int tcp_ = -1, udp_ = -1;
};

bool WaitReadable(int fd, int ms) {
  pollfd pf{fd, POLLIN, 0};
  return poll(&pf, 1, ms) > 0;
}

sockaddr_storage Address(const std::string& ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (ip.find(':') != std::string::npos) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr);
    *len = sizeof(a);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    *len = sizeof(a);
  }
  return ss;
}

// One TCP exchange through the Gateway: the backend's greeting line, or "" on failure.
std::string TcpExchange(const std::string& gw, uint16_t port = 5432) {
  socklen_t len;
  sockaddr_storage to = Address(gw, port, &len);
  int s = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  std::string line;
  connect(s, reinterpret_cast<sockaddr*>(&to), len);
  pollfd pf{s, POLLOUT, 0};
  int err = 0;
  socklen_t elen = sizeof(err);
  if (poll(&pf, 1, 3000) > 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0) {
    std::string got;
    char buf[256];
    while (got.find('\n') == std::string::npos && WaitReadable(s, 3000)) {
      ssize_t n = recv(s, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, n);
    }
    (void)!send(s, "ping", 4, MSG_NOSIGNAL);
    std::string echo;
    while (echo.size() < 4 && WaitReadable(s, 3000)) {
      ssize_t n = recv(s, buf, sizeof(buf), 0);
      if (n <= 0) break;
      echo.append(buf, n);
    }
    if (echo == "ping" && got.find('\n') != std::string::npos) line = got.substr(0, got.find('\n'));
  }
  close(s);
  return line;
}

// The test bed's variant: transmit checksum offload stays on (the veth default: senders leave
// partial checksums for the fast path to complete) or is turned off (complete checksums); the
// backends' veths are plain (nothing on their far end, GRO off: a pod's interface, where XDP
// cannot redirect and TC sends the packets) or have NAPI there (an XDP program: XDP redirects).
struct Bed {
  bool offload = true;
  bool napi = false;
};

class L4EndToEndTest : public ::testing::TestWithParam<Bed> {
 protected:
  void SetUp() override {
    std::string why = Prepare();
    if (!why.empty()) {
      if (PrivilegeRequired()) FAIL() << why;
      GTEST_SKIP() << why;
    }
  }
  void TearDown() override {
    for (auto& b : backends_) b->Stop();
    if (applier_) applier_->Stop(/*detach=*/true);
    applier_.reset();
    for (const std::string& ns : namespaces_) Sh("ip netns del " + ns);
    if (!pin_root_.empty()) {
      EXPECT_FALSE(std::filesystem::exists(pin_root_)) << "pins left behind";
    }
  }

  std::string Prepare() {
    if (geteuid() != 0) return "needs root";
    // Our own mount namespace with a bpffs at /sys/fs/bpf (libxdp needs one there); the
    // named network namespaces below live in it and go away with the process.
    if (std::string why = e2e::PrivateBpffs(); !why.empty()) return why;
    std::string id = std::to_string(getpid());
    client_ = "xgl4c-" + id;
    node_ = "xgl4n-" + id;
    for (const std::string& ns : {client_, node_, "xgl4b1-" + id, "xgl4b2-" + id}) {
      if (!Sh("ip netns add " + ns)) return "ip netns add " + ns;
      namespaces_.push_back(ns);
      Sh("ip -n " + ns + " link set lo up");
    }
    const std::string b1 = namespaces_[2], b2 = namespaces_[3];
    const std::vector<std::string> cmds = {
        "ip -n " + client_ + " link add c0 type veth peer name n0 netns " + node_,
        "ip -n " + b1 + " link add b1 type veth peer name n1 netns " + node_,
        "ip -n " + b2 + " link add b2 type veth peer name n2 netns " + node_,
        "ip -n " + client_ + " addr add 198.18.0.2/24 dev c0",
        "ip -n " + client_ + " -6 addr add fd00::2/64 dev c0 nodad",
        "ip -n " + node_ + " addr add 198.18.0.1/24 dev n0",
        "ip -n " + node_ + " -6 addr add fd00::1/64 dev n0 nodad",
        "ip -n " + node_ + " addr add 198.18.1.1/24 dev n1",
        "ip -n " + node_ + " -6 addr add fd00:1::1/64 dev n1 nodad",
        "ip -n " + node_ + " addr add 198.18.2.1/24 dev n2",
        "ip -n " + node_ + " -6 addr add fd00:2::1/64 dev n2 nodad",
        "ip -n " + b1 + " addr add 198.18.1.2/24 dev b1",
        "ip -n " + b1 + " -6 addr add fd00:1::2/64 dev b1 nodad",
        "ip -n " + b2 + " addr add 198.18.2.2/24 dev b2",
        "ip -n " + b2 + " -6 addr add fd00:2::2/64 dev b2 nodad",
        "ip -n " + client_ + " link set c0 up",
        "ip -n " + node_ + " link set n0 up",
        "ip -n " + node_ + " link set n1 up",
        "ip -n " + node_ + " link set n2 up",
        "ip -n " + b1 + " link set b1 up",
        "ip -n " + b2 + " link set b2 up",
        "ip -n " + client_ + " route add default via 198.18.0.1",
        "ip -n " + client_ + " -6 route add default via fd00::1",
        "ip -n " + b1 + " route add default via 198.18.1.1",
        "ip -n " + b1 + " -6 route add default via fd00:1::1",
        "ip -n " + b2 + " route add default via 198.18.2.1",
        "ip -n " + b2 + " -6 route add default via fd00:2::1",
        "ip netns exec " + node_ + " sysctl -qw net.ipv4.ip_forward=1",
        "ip netns exec " + node_ + " sysctl -qw net.ipv6.conf.all.forwarding=1",
    };
    for (const std::string& cmd : cmds) {
      if (!Sh(cmd)) return "failed: " + cmd;
    }
    // Per-namespace setup from this thread, then back to the node for the agent side.
    struct Step {
      std::string ns;
      const char* ifname;
    };
    for (const Step& s : {Step{client_, "c0"}, Step{b1, "b1"}, Step{b2, "b2"}}) {
      if (!EnterNs(s.ns)) return "setns " + s.ns;
      if (!GetParam().offload && !TxChecksumOff(s.ifname)) {
        return std::string("tx checksum off on ") + s.ifname;
      }
      if (GetParam().napi && s.ns != client_ && !e2e::AttachXdpPass(s.ifname))
        return std::string("XDP_PASS on ") + s.ifname;
    }
    if (!EnterNs(node_)) return "setns node";
    backends_.push_back(std::make_unique<Backend>(b1, "b1"));
    backends_.push_back(std::make_unique<Backend>(b2, "b2"));
    backends_.push_back(std::make_unique<Backend>(node_, "node"));
    for (auto& b : backends_) {
      if (!b->Start()) return "starting a backend";
    }
    pin_root_ = "/sys/fs/bpf/xgate-e2e-" + id;
    auto applier = l4::L4Applier::Create({pin_root_, {"n0", "n1", "n2"}});
    if (!applier.ok()) return applier.status().ToString();
    applier_ = std::move(*applier);
    absl::Status s = applier_->Apply(Snapshot());
    if (!s.ok()) return s.ToString();
    return "";
  }

  static compiler::Snapshot Snapshot() {
    compiler::Snapshot s;
    s.generation = 1;
    auto listener = [](std::string addr, uint16_t port, uint8_t proto,
                       std::vector<compiler::L4Backend> backends) {
      compiler::L4Listener l =
          testing::L4ListenerOf(std::move(addr), port, proto, std::move(backends));
      l.listener = "db";
      l.route.clear();
      return l;
    };
    s.l4.push_back(listener(
        "198.18.100.10", 5432, IPPROTO_TCP,
        {{"198.18.1.2", 5432, 800000, "default/db"}, {"198.18.2.2", 5432, 200000, "default/db"}}));
    s.l4.push_back(listener("198.18.100.10", 5353, IPPROTO_UDP,
                            {{"198.18.1.2", 5353, 500000, "default/dns"},
                             {"198.18.2.2", 5353, 500000, "default/dns"}}));
    // A backend on the node itself: its replies leave through TC egress.
    s.l4.push_back(listener("198.18.100.10", 7000, IPPROTO_TCP,
                            {{"198.18.0.1", 5432, 1000000, "default/local"}}));
    s.l4.push_back(listener(
        "fd00:100::10", 5432, IPPROTO_TCP,
        {{"fd00:1::2", 5432, 500000, "default/db"}, {"fd00:2::2", 5432, 500000, "default/db"}}));
    return s;
  }

  // Runs `fn` with this thread in the client namespace.
  template <typename Fn>
  void AsClient(Fn fn) {
    ASSERT_TRUE(EnterNs(client_));
    fn();
    ASSERT_TRUE(EnterNs(node_));
  }

  std::string client_, node_, pin_root_;
  std::vector<std::string> namespaces_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::unique_ptr<l4::L4Applier> applier_;
};

TEST_P(L4EndToEndTest, TcpSharesFollowWeightsAndBackendsSeeTheClient) {
  std::map<std::string, int> by_backend;
  constexpr int kConnections = 300;
  AsClient([&] {
    for (int i = 0; i < kConnections; ++i) {
      std::string line = TcpExchange("198.18.100.10");
      ASSERT_FALSE(line.empty()) << "connection " << i << " failed";
      // "<backend> <client address as the backend saw it>"
      EXPECT_EQ(line.substr(line.find(' ') + 1), "198.18.0.2") << "no SNAT";
      by_backend[line.substr(0, line.find(' '))]++;
    }
  });
  EXPECT_NEAR(by_backend["b1"] / double(kConnections), 0.8, 0.08);
  EXPECT_NEAR(by_backend["b2"] / double(kConnections), 0.2, 0.08);

  auto stats = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, maps::kPathStats));
  ASSERT_TRUE(stats.ok());
  if (GetParam().napi) {
    // A flow's first packets may find no neighbour yet: TC sends those (and resolves it).
    EXPECT_GT(stats->Read(XG_PATH_FORWARD)->packets, 10 * stats->Read(XG_PATH_FORWARD_TC)->packets)
        << "XDP redirected little";
  } else {
    EXPECT_EQ(stats->Read(XG_PATH_FORWARD)->packets, 0u) << "XDP redirected into a plain veth";
    EXPECT_GT(stats->Read(XG_PATH_FORWARD_TC)->packets, 0u) << "TC sent nothing";
  }
  EXPECT_GT(stats->Read(XG_PATH_RNAT)->packets, 0u);
  auto xmit_drops = l4::ReadXmitDrops(pin_root_);
  ASSERT_TRUE(xmit_drops.ok()) << xmit_drops.status();
  EXPECT_TRUE(xmit_drops->empty()) << "the kernel dropped redirected frames";
  if (GetParam().offload) {
    EXPECT_GT(stats->Read(XG_PATH_PARTIAL_CSUM)->packets, 0u);
  } else {
    EXPECT_EQ(stats->Read(XG_PATH_PARTIAL_CSUM)->packets, 0u)
        << "complete checksums taken as partial";
  }
}

TEST_P(L4EndToEndTest, UdpFlowsStickAndRepliesComeFromTheGateway) {
  AsClient([&] {
    std::map<std::string, int> backends_seen;
    for (int flow = 0; flow < 20; ++flow) {
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      socklen_t len;
      sockaddr_storage to = Address("198.18.100.10", 5353, &len);
      std::string first;
      for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(sendto(s, "q", 1, 0, reinterpret_cast<sockaddr*>(&to), len), 1);
        ASSERT_TRUE(WaitReadable(s, 3000)) << "no answer, flow " << flow;
        char buf[256];
        sockaddr_storage from{};
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(s, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
        ASSERT_GT(n, 0);
        EXPECT_EQ(PeerText(from), "198.18.100.10");
        EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in&>(from).sin_port), 5353);
        std::string answer(buf, n);
        if (first.empty()) first = answer;
        EXPECT_EQ(answer, first) << "a UDP flow changed backend";
      }
      backends_seen[first.substr(0, first.find(' '))]++;
      close(s);
    }
    EXPECT_EQ(backends_seen.size(), 2u) << "20 flows at 50/50 all went to one backend";
  });
}

TEST_P(L4EndToEndTest, Ipv6TcpThroughTheUlaGateway) {
  std::map<std::string, int> by_backend;
  AsClient([&] {
    for (int i = 0; i < 40; ++i) {
      std::string line = TcpExchange("fd00:100::10");
      ASSERT_FALSE(line.empty()) << "connection " << i << " failed";
      EXPECT_EQ(line.substr(line.find(' ') + 1), "fd00::2");
      by_backend[line.substr(0, line.find(' '))]++;
    }
  });
  EXPECT_EQ(by_backend.size(), 2u);
}

TEST_P(L4EndToEndTest, BackendOnTheNodeRepliesFromTheGatewayAddress) {
  AsClient([&] {
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(TcpExchange("198.18.100.10", 7000), "node 198.18.0.2") << "connection " << i;
    }
  });
  auto stats = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, maps::kPathStats));
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->Read(XG_PATH_FORWARD_UP)->packets, 0u) << "local delivery goes up";
  EXPECT_EQ(stats->Read(XG_PATH_FORWARD_TC)->packets, 0u) << "and the stack delivers it";
  EXPECT_GT(stats->Read(XG_PATH_RNAT)->packets, 0u) << "replies rewritten at egress";
}

TEST_P(L4EndToEndTest, RestartKeepsTrafficFlowingAndDetachRemovesEverything) {
  auto exchange = [&] {
    std::string line;
    AsClient([&] { line = TcpExchange("198.18.100.10"); });
    return line;
  };
  ASSERT_FALSE(exchange().empty());
  applier_->Stop(/*detach=*/false);
  applier_.reset();
  EXPECT_FALSE(exchange().empty()) << "traffic stopped with the agent";

  auto again = l4::L4Applier::Create({pin_root_, {"n0", "n1", "n2"}});
  ASSERT_TRUE(again.ok()) << again.status();
  applier_ = std::move(*again);
  ASSERT_TRUE(applier_->Apply(Snapshot()).ok());
  EXPECT_FALSE(exchange().empty()) << "traffic stopped after the restart";

  applier_->Stop(/*detach=*/true);
  applier_.reset();
  uint32_t prog_id = 0;
  ASSERT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex("n0")), 0, &prog_id), 0);
  EXPECT_EQ(prog_id, 0u) << "XDP program left on n0";
  EXPECT_FALSE(std::filesystem::exists(pin_root_));
  EXPECT_TRUE(exchange().empty()) << "the Gateway address still answers after detach";
}

// An xgate XDP program from another build (here: one that passes everything) is replaced
// on start, not adopted.
TEST_P(L4EndToEndTest, StartReplacesAnotherBuildsProgram) {
  applier_->Stop(/*detach=*/false);
  applier_.reset();
  int n0 = static_cast<int>(if_nametoindex("n0"));
  ASSERT_EQ(bpf_xdp_detach(n0, XDP_FLAGS_DRV_MODE, nullptr), 0);
  bpf_insn pass[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fake = bpf_prog_load(BPF_PROG_TYPE_XDP, l4::kXdpProgramName, "GPL", pass, 2, nullptr);
  ASSERT_GE(fake, 0);
  ASSERT_EQ(bpf_xdp_attach(n0, fake, XDP_FLAGS_DRV_MODE, nullptr), 0);
  uint32_t fake_id = 0;
  ASSERT_EQ(bpf_xdp_query_id(n0, 0, &fake_id), 0);
  close(fake);

  auto again = l4::L4Applier::Create({pin_root_, {"n0", "n1", "n2"}});
  ASSERT_TRUE(again.ok()) << again.status();
  applier_ = std::move(*again);
  ASSERT_TRUE(applier_->Apply(Snapshot()).ok());
  uint32_t now_id = 0;
  ASSERT_EQ(bpf_xdp_query_id(n0, 0, &now_id), 0);
  EXPECT_NE(now_id, fake_id);
  EXPECT_NE(now_id, 0u);
  std::string line;
  AsClient([&] { line = TcpExchange("198.18.100.10"); });
  EXPECT_FALSE(line.empty());
}

INSTANTIATE_TEST_SUITE_P(Beds, L4EndToEndTest,
                         ::testing::Values(Bed{true, false}, Bed{false, false}, Bed{true, true}),
                         [](const ::testing::TestParamInfo<Bed>& info) {
                           return std::string(info.param.napi ? "NapiBackends" : "PlainBackends") +
                                  (info.param.offload ? "_ChecksumOffloadOn"
                                                      : "_ChecksumOffloadOff");
                         });

}  // namespace
}  // namespace xgate
