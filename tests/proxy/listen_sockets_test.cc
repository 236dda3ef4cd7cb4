// xgate-proxy's listening sockets (ListenSockets): only the configured address and port are
// bound, a port held by another socket is reported and retried with a bounded backoff, and a
// freed port is taken on the next retry. Loopback only, no privileges.
#include "userspace-proxy/server/listen_sockets.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "userspace-proxy/server/net.h"

namespace xgate::proxy {
namespace {

using std::chrono::milliseconds;

// A plain listening socket (no SO_REUSEPORT), as another program holds a port: on `ip`, port
// `port` (0: any free one). -1 when the bind fails.
int OtherProgramListens(const char* ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

api::L7Config OnePort(const std::string& address, uint16_t port, bool steered = false) {
  api::L7Config config;
  config.set_generation(3);
  api::Port* p = config.add_ports();
  p->set_port(port);
  p->add_addresses(address);
  if (steered) p->add_steered_addresses(address);
  return config;
}

TEST(ListenSockets, BindsOnlyTheGatewayAddressAndPort) {
  int probe = OtherProgramListens("127.0.0.1", 0);
  ASSERT_GE(probe, 0);
  uint16_t port = LocalAddress(probe).Port();
  close(probe);

  ListenSockets sockets(/*workers=*/2);
  sockets.Sync(OnePort("127.0.0.1", port));
  api::ListenReport report = sockets.Report();
  EXPECT_EQ(report.generation(), 3u);
  ASSERT_EQ(report.results_size(), 1);
  EXPECT_TRUE(report.results(0).bound()) << report.results(0).error();
  EXPECT_FALSE(report.results(0).steered());
  ASSERT_EQ(sockets.set()->groups.size(), 1u);
  const auto& fds = sockets.set()->groups[0]->fds;
  ASSERT_EQ(fds.size(), 2u);  // one per worker, one SO_REUSEPORT group
  for (int fd : fds) EXPECT_EQ(LocalAddress(fd).ToString(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(sockets.NextRetry(), ListenSockets::Clock::time_point::max());

  // Another address keeps the same port for whoever wants it.
  int other = OtherProgramListens("127.0.0.2", port);
  EXPECT_GE(other, 0) << "the proxy took the port on an address it does not serve";
  if (other >= 0) close(other);
}

TEST(ListenSockets, TakenPortIsReportedRetriedAndTakenWhenFreed) {
  int holder = OtherProgramListens("127.0.0.1", 0);
  ASSERT_GE(holder, 0);
  uint16_t port = LocalAddress(holder).Port();

  ListenSockets sockets(/*workers=*/1, ListenBackoff{milliseconds(250), milliseconds(2000)});
  sockets.Sync(OnePort("127.0.0.1", port));
  api::ListenResult r = sockets.Report().results(0);
  EXPECT_FALSE(r.bound());
  EXPECT_EQ(r.error(), "bind 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  EXPECT_EQ(r.failures(), 1u);
  EXPECT_TRUE(sockets.set()->groups.empty());

  // Not due yet: nothing tried.
  auto due = sockets.NextRetry();
  EXPECT_FALSE(sockets.Retry(due - milliseconds(1)));
  // Each failure doubles the wait, up to the bound.
  std::vector<int64_t> waits;
  for (int i = 0; i < 5; ++i) {
    auto at = sockets.NextRetry();
    ASSERT_TRUE(sockets.Retry(at));
    waits.push_back(std::chrono::duration_cast<milliseconds>(sockets.NextRetry() - at).count());
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{500, 1000, 2000, 2000, 2000}));
  EXPECT_EQ(sockets.Report().results(0).failures(), 6u);

  close(holder);
  ASSERT_TRUE(sockets.Retry(sockets.NextRetry()));
  r = sockets.Report().results(0);
  EXPECT_TRUE(r.bound());
  EXPECT_EQ(r.error(), "");
  ASSERT_EQ(sockets.set()->groups.size(), 1u);
  EXPECT_EQ(sockets.NextRetry(), ListenSockets::Clock::time_point::max());
}

TEST(ListenSockets, ANewConfigKeepsOpenSocketsAndDropsTheRest) {
  ListenSockets sockets(/*workers=*/1);
  int probe = OtherProgramListens("127.0.0.1", 0);
  ASSERT_GE(probe, 0);
  uint16_t port = LocalAddress(probe).Port();
  close(probe);
  sockets.Sync(OnePort("127.0.0.1", port));
  ASSERT_EQ(sockets.set()->groups.size(), 1u);
  std::shared_ptr<ListenGroup> kept = sockets.set()->groups[0];

  api::L7Config next = OnePort("127.0.0.1", port);
  next.mutable_ports(0)->add_addresses("127.0.0.3");
  sockets.Sync(next);
  ASSERT_EQ(sockets.set()->groups.size(), 2u);
  EXPECT_TRUE(sockets.set()->groups[0] == kept || sockets.set()->groups[1] == kept);

  sockets.Sync(OnePort("127.0.0.3", port));
  ASSERT_EQ(sockets.set()->groups.size(), 1u);
  EXPECT_NE(sockets.set()->groups[0], kept);
  // Dropped by the set; the port on 127.0.0.1 frees once the last holder lets go.
  kept.reset();
  int again = OtherProgramListens("127.0.0.1", port);
  EXPECT_GE(again, 0);
  if (again >= 0) close(again);
}

TEST(ListenSockets, SteeredAddressWithoutItsSocketMapIsReported) {
  ListenSockets sockets(/*workers=*/1);
  sockets.Sync(OnePort("198.18.77.10", 80, /*steered=*/true));
  api::ListenResult r = sockets.Report().results(0);
  EXPECT_TRUE(r.steered());
  EXPECT_FALSE(r.bound());
  EXPECT_EQ(r.error(), "steered, but the config names no steer socket map");

  api::L7Config config = OnePort("198.18.77.10", 80, /*steered=*/true);
  config.set_steer_socket_map("/nonexistent/xg_steer_socks");
  sockets.Sync(config);
  r = sockets.Report().results(0);
  EXPECT_FALSE(r.bound());
  EXPECT_EQ(r.error(), "steer socket map /nonexistent/xg_steer_socks: No such file or directory");
  // No socket is kept on the side while it cannot be reached.
  EXPECT_TRUE(sockets.set()->groups.empty());
}

}  // namespace
}  // namespace xgate::proxy
