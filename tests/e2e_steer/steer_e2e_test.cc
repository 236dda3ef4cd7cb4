// client ns --veth-- node ns (the agent's XDP + TC fast path and steering on the veth)
//
// 198.18.76.2  c <-> n 198.18.76.1     the client routes 198.18.77.0/24 via the node
// fd00:76::2          fd00:76::1       and fd00:77::/64 via the node
//
// The Gateway addresses 198.18.77.10 and fd00:77::10 are on no interface of the node: the
// proxy's private listener of each family (127.0.0.1 / ::1 on a port the kernel picks, opened
// by xgate-proxy's ListenSockets and put in xg_steer_socks) gets their connections through
// bpf_sk_assign and the policy route for the steer mark, and sees the Gateway address as its
// local address. The proxy binds nothing on the Gateway port, so another process may.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/admin/metrics.h"
#include "agent/compiler/snapshot.h"
#include "agent/inspect/l4_maps.h"
#include "agent/l4/l4_applier.h"
#include "agent/node/steering.h"
#include "maps/pins.h"
#include "maps/steer.h"
#include "maps/typed_map.h"
#include "tests/netns/netns.h"
#include "tests/node/tcx_programs.h"
#include "userspace-proxy/server/listen_sockets.h"
#include "userspace-proxy/server/net.h"

namespace xgate {
namespace {

constexpr uint16_t kServed = 8443;      // punted, the proxy listens
constexpr uint16_t kNotPunted = 8444;   // the proxy listens, but no listener is punted there
constexpr uint16_t kNoListener = 8445;  // punted, nothing listens
constexpr char kGatewayV4[] = "198.18.77.10";
constexpr char kGatewayV6[] = "fd00:77::10";

using e2e::EnterNs;
using e2e::Sh;

std::string Text(const proxy::SocketAddress& a) { return a.ToString(); }

// Connects from the client namespace (a thread of its own), sends `hello` and reads the
// answer. Empty when the connection did not complete within `ms`.
std::string ClientExchange(const std::string& ns, const std::string& ip, uint16_t port,
                           const std::string& hello, int ms) {
  std::string answer;
  std::thread client([&] {
    if (!EnterNs(ns)) return;
    auto addr = proxy::MakeAddress(ip, port);
    if (!addr.ok()) return;
    auto fd = proxy::StartConnect(*addr);
    if (!fd.ok()) return;
    pollfd pf{*fd, POLLOUT, 0};
    if (poll(&pf, 1, ms) == 1 && proxy::SocketError(*fd) == 0 &&
        send(*fd, hello.data(), hello.size(), MSG_NOSIGNAL) == ssize_t(hello.size())) {
      pf = {*fd, POLLIN, 0};
      char buf[256];
      if (poll(&pf, 1, 5000) == 1) {
        ssize_t n = recv(*fd, buf, sizeof(buf), 0);
        if (n > 0) answer.assign(buf, n);
      }
    }
    close(*fd);
  });
  client.join();
  return answer;
}

class SteerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (e2e::PrivilegeRequired()) FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << "needs root for namespaces and BPF";
    }
    std::string why = e2e::PrivateBpffs();
    ASSERT_TRUE(why.empty()) << why;
    std::string id = std::to_string(getpid());
    client_ns_ = "xgstc" + id;
    node_ns_ = "xgstn" + id;
    node_if_ = "xgsn" + id;
    pin_root_ = "/sys/fs/bpf/xgate-steer-e2e-" + id;
    ASSERT_TRUE(Sh("ip netns add " + client_ns_));
    ASSERT_TRUE(Sh("ip netns add " + node_ns_));
    const std::string c = "ip -n " + client_ns_ + " ", n = "ip -n " + node_ns_ + " ";
    for (const std::string& cmd : {
             n + "link set lo up",
             c + "link set lo up",
             "ip link add " + node_if_ + " netns " + node_ns_ + " type veth peer name c" + id +
                 " netns " + client_ns_,
             n + "addr add 198.18.76.1/24 dev " + node_if_,
             n + "addr add fd00:76::1/64 dev " + node_if_ + " nodad",
             c + "addr add 198.18.76.2/24 dev c" + id,
             c + "addr add fd00:76::2/64 dev c" + id + " nodad",
             n + "link set " + node_if_ + " up",
             c + "link set c" + id + " up",
             c + "route add 198.18.77.0/24 via 198.18.76.1",
             c + "-6 route add fd00:77::/64 via fd00:76::1",
         }) {
      ASSERT_TRUE(Sh(cmd)) << cmd;
    }
    // This thread is the node from here on (the proxy's sockets, the agent's appliers).
    ASSERT_TRUE(EnterNs(node_ns_));
    entered_ = true;
  }

  void TearDown() override {
    if (steering_) steering_->Stop(/*detach=*/true);
    if (l4_) l4_->Stop(/*detach=*/true);
    steering_.reset();
    l4_.reset();
    for (int fd : listeners_) close(fd);
    sockets_.reset();
    if (!client_ns_.empty()) Sh("ip netns del " + client_ns_);
    if (!node_ns_.empty()) Sh("ip netns del " + node_ns_);
    std::error_code ec;
    if (!pin_root_.empty()) std::filesystem::remove_all(pin_root_, ec);
  }

  // A listener on the wildcard address (dual-stack, no SO_REUSEPORT), as another process of
  // the node would have: its bind fails if anything holds the port on any address.
  int Listen(uint16_t port) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_port = htons(port);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0 && listen(fd, 16) == 0;
    EXPECT_TRUE(ok) << "[::]:" << port << ": " << std::strerror(errno);
    listeners_.push_back(fd);
    return ok ? fd : -1;
  }

  // The proxy's sockets for Gateway `addresses` on kServed, as xgate-proxy opens them for the
  // config the agent sends (steered: the private listeners, put in the pinned sockmap).
  // Returns the listening fd of each address's socket, in order.
  std::vector<int> ProxyListens(std::initializer_list<const char*> addresses, bool steered) {
    api::L7Config config;
    api::Port* port = config.add_ports();
    port->set_port(kServed);
    for (const char* a : addresses) {
      port->add_addresses(a);
      if (steered) port->add_steered_addresses(a);
    }
    if (steered) config.set_steer_socket_map(maps::PinPath(pin_root_, node::kSteerSocks));
    sockets_ = std::make_unique<proxy::ListenSockets>(/*workers=*/1);
    sockets_->Sync(config);
    std::vector<int> fds;
    api::ListenReport report = sockets_->Report();
    for (const api::ListenResult& r : report.results()) {
      EXPECT_TRUE(r.bound()) << r.address() << ": " << r.error();
    }
    for (const char* a : addresses) {
      bool v6 = std::string(a).find(':') != std::string::npos;
      for (const auto& group : sockets_->set()->groups) {
        proxy::SocketAddress local = proxy::LocalAddress(group->fds.front());
        if ((local.storage.ss_family == AF_INET6) == v6) fds.push_back(group->fds.front());
      }
    }
    EXPECT_EQ(fds.size(), addresses.size());
    return fds;
  }

  // The agent's --attach appliers on the node's veth, given the punted listeners.
  void Attach(const compiler::Snapshot& snapshot) {
    auto l4 = l4::L4Applier::Create({pin_root_, {node_if_}});
    ASSERT_TRUE(l4.ok()) << l4.status();
    l4_ = std::move(*l4);
    auto steering = node::SteeringApplier::Create({pin_root_, {node_if_}});
    ASSERT_TRUE(steering.ok()) << steering.status();
    steering_ = std::move(*steering);
    ASSERT_TRUE(l4_->Apply(snapshot).ok());
    ASSERT_TRUE(steering_->Apply(snapshot).ok());
    // Steering runs before the reverse NAT program, which ends the chain for what it leaves.
    EXPECT_EQ(testing::TcxIngressPrograms(node_if_),
              (std::vector<std::string>{"xgate_tc_steer", "xgate_tc_rnat_i"}));
  }

  uint64_t Count(uint32_t result) {
    auto counters = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, node::kSteerStats));
    EXPECT_TRUE(counters.ok()) << counters.status();
    if (!counters.ok()) return 0;
    auto t = counters->Read(result);
    return t.ok() ? t->packets : 0;
  }

  // Accepts one connection on `listener` within `ms`, answers "pong <local address>" to what
  // it reads; returns the local address the accepted socket has (empty when none came).
  std::string ServeOne(int listener, int ms) {
    pollfd pf{listener, POLLIN, 0};
    if (poll(&pf, 1, ms) != 1) return "";
    int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return "";
    std::string local = Text(proxy::LocalAddress(c));
    pf = {c, POLLIN, 0};
    char buf[64];
    if (poll(&pf, 1, 5000) == 1 && recv(c, buf, sizeof(buf), 0) > 0) {
      std::string answer = "pong " + local;
      (void)!send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
    close(c);
    return local;
  }

  // A client exchange on one thread while this one serves.
  std::pair<std::string, std::string> Exchange(int listener, const std::string& ip, uint16_t port) {
    std::string answer;
    std::thread client([&] { answer = ClientExchange(client_ns_, ip, port, "ping", 5000); });
    std::string local = ServeOne(listener, 5000);
    client.join();
    return {local, answer};
  }

  std::string client_ns_, node_ns_, node_if_, pin_root_;
  bool entered_ = false;
  std::vector<int> listeners_;
  std::unique_ptr<proxy::ListenSockets> sockets_;
  std::unique_ptr<l4::L4Applier> l4_;
  std::unique_ptr<node::SteeringApplier> steering_;
};

compiler::Snapshot Punting(std::initializer_list<std::pair<const char*, uint16_t>> listeners,
                           bool steered = true) {
  compiler::Snapshot s;
  for (const auto& [address, port] : listeners) s.punt.push_back({address, port, steered});
  return s;
}

TEST_F(SteerE2E, GatewayAddressNotOnTheNodeReachesTheProxysPrivateListener) {
  ASSERT_NO_FATAL_FAILURE(Attach(Punting({{kGatewayV4, kServed}, {kGatewayV6, kServed}})));
  std::vector<int> proxy = ProxyListens({kGatewayV4, kGatewayV6}, /*steered=*/true);
  ASSERT_EQ(proxy.size(), 2u);
  // No interface of the node has either address (this thread, so `ip`, is in the node).
  ASSERT_FALSE(Sh("ip -o addr show | grep -q -e 198.18.77.10 -e fd00:77::10"));
  ASSERT_TRUE(Sh("ip -o addr show | grep -q 198.18.76.1"));  // the check itself works
  // The proxy holds no socket on the Gateway port: another process takes the wildcard
  // address on it, and the Gateway's connections still go to the proxy.
  int other = Listen(kServed);
  ASSERT_GE(other, 0);

  auto [local4, answer4] = Exchange(proxy[0], kGatewayV4, kServed);
  EXPECT_EQ(local4, "198.18.77.10:8443");
  EXPECT_EQ(answer4, "pong 198.18.77.10:8443");
  pollfd pf{other, POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 0), 0) << "a Gateway connection reached the other process";
  auto [local6, answer6] = Exchange(proxy[1], kGatewayV6, kServed);
  EXPECT_EQ(local6, "[fd00:77::10]:8443");
  EXPECT_EQ(answer6, "pong [fd00:77::10]:8443");

  // Each connection's SYN went to the listener, the rest of it to the connection's socket.
  EXPECT_EQ(Count(XG_STEER_LISTENER), 2u);
  EXPECT_GE(Count(XG_STEER_ESTABLISHED), 4u);
  EXPECT_EQ(Count(XG_STEER_NO_SOCKET), 0u);
  EXPECT_EQ(Count(XG_STEER_ASSIGN_FAILED), 0u);

  // The operator's view (GetCounters, xgatectl get counters, /metrics) reads the same map.
  auto maps = inspect::L4Maps::Open(pin_root_);
  ASSERT_TRUE(maps.ok()) << maps.status();
  auto counters = inspect::ReadCounters(**maps, nullptr);
  ASSERT_TRUE(counters.ok()) << counters.status();
  ASSERT_EQ(counters->steering_size(), XG_STEER_MAX);
  EXPECT_EQ(counters->steering(XG_STEER_LISTENER).name(), "listener");
  EXPECT_EQ(counters->steering(XG_STEER_LISTENER).packets(), 2u);
  EXPECT_EQ(counters->steering(XG_STEER_ESTABLISHED).packets(), Count(XG_STEER_ESTABLISHED));
  std::string metrics = admin::RenderFastPathMetrics(*counters);
  EXPECT_NE(metrics.find("xgate_steer_packets_total{result=\"listener\"} 2\n"), std::string::npos)
      << metrics;
}

TEST_F(SteerE2E, OnlyPuntedListenersAreSteered) {
  int not_punted = Listen(kNotPunted);
  ASSERT_GE(not_punted, 0);
  ASSERT_NO_FATAL_FAILURE(Attach(Punting({{kGatewayV4, kServed}, {kGatewayV4, kNoListener}})));

  // A port with a listener on the node but no punted Gateway listener: not steered, so the
  // node (no address, no forwarding) never delivers it.
  std::string answer = ClientExchange(client_ns_, kGatewayV4, kNotPunted, "ping", 1000);
  EXPECT_EQ(answer, "");
  pollfd pf{not_punted, POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 0), 0) << "a connection reached the listener of a port not punted";
  EXPECT_EQ(Count(XG_STEER_LISTENER), 0u);

  // A punted listener while the proxy has no private listener: counted and dropped.
  EXPECT_EQ(ClientExchange(client_ns_, kGatewayV4, kNoListener, "ping", 1000), "");
  EXPECT_GE(Count(XG_STEER_NO_SOCKET), 1u);

  // The punted one works, and stops being steered when the snapshot drops it.
  int served = ProxyListens({kGatewayV4}, /*steered=*/true).at(0);
  EXPECT_EQ(Exchange(served, kGatewayV4, kServed).second, "pong 198.18.77.10:8443");
  ASSERT_TRUE(steering_->Apply(Punting({})).ok());
  EXPECT_EQ(ClientExchange(client_ns_, kGatewayV4, kServed, "ping", 1000), "");
  EXPECT_EQ(Count(XG_STEER_LISTENER), 1u);
}

TEST_F(SteerE2E, NodeAddressIsServedWithoutSteering) {
  // A Gateway without spec.addresses: the punted address is the interface's own, which the
  // proxy binds (that address and port only).
  ASSERT_NO_FATAL_FAILURE(Attach(Punting({{"198.18.76.1", kServed}}, /*steered=*/false)));
  int served = ProxyListens({"198.18.76.1"}, /*steered=*/false).at(0);
  EXPECT_EQ(Text(proxy::LocalAddress(served)), "198.18.76.1:8443");
  auto entries = node::SteerTargetMap::OpenPinned(maps::PinPath(pin_root_, node::kSteerTargets));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_TRUE(entries->Entries()->empty());
  EXPECT_EQ(Exchange(served, "198.18.76.1", kServed).second, "pong 198.18.76.1:8443");
  EXPECT_EQ(Count(XG_STEER_LISTENER), 0u);
}

TEST_F(SteerE2E, SteeringOutlivesTheAgentAndIsAdoptedByTheNext) {
  ASSERT_NO_FATAL_FAILURE(Attach(Punting({{kGatewayV4, kServed}})));
  std::vector<int> proxy = ProxyListens({kGatewayV4, kGatewayV6}, /*steered=*/true);
  ASSERT_EQ(proxy.size(), 2u);
  // SIGTERM without --detach-on-exit: everything stays and keeps steering.
  steering_->Stop(/*detach=*/false);
  l4_->Stop(/*detach=*/false);
  steering_.reset();
  l4_.reset();
  EXPECT_EQ(Exchange(proxy[0], kGatewayV4, kServed).second, "pong 198.18.77.10:8443");

  // The next agent adopts the program, its entries and the proxy's sockets in the sockmap,
  // then follows its own snapshot.
  ASSERT_NO_FATAL_FAILURE(Attach(Punting({{kGatewayV6, kServed}})));
  EXPECT_EQ(Exchange(proxy[1], kGatewayV6, kServed).second, "pong [fd00:77::10]:8443");
  EXPECT_EQ(ClientExchange(client_ns_, kGatewayV4, kServed, "ping", 1000), "");
  EXPECT_EQ(Count(XG_STEER_LISTENER), 2u);

  // --detach-on-exit: program, pins and policy route gone.
  steering_->Stop(/*detach=*/true);
  steering_.reset();
  EXPECT_FALSE(std::filesystem::exists(maps::PinPath(pin_root_, node::kSteerTargets)));
  EXPECT_FALSE(std::filesystem::exists(maps::PinPath(pin_root_, node::kSteerSocks)));
  EXPECT_FALSE(Sh("ip rule show | grep -q 'lookup 30823'"));
  EXPECT_FALSE(Sh("ip route show table 30823 | grep -q local"));
}

}  // namespace
}  // namespace xgate
