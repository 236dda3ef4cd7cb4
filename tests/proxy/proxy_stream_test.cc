// The agent -> proxy config stream over a unix socket: the client sees every published
// config, keeps its last one when the agent goes away and reconnects; the L7Applier starts
// build/xgate-proxy, restarts it when it dies, and the proxy serves what was published.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "agent/l7/config_server.h"
#include "agent/l7/l7_applier.h"
#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/config_stream.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class ProxyStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("xgate-proxy-stream-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "proxy.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  api::L7Config Config(uint64_t generation) {
    api::L7Config config;
    config.set_generation(generation);
    return config;
  }

  std::filesystem::path dir_;
  std::string socket_;
};

TEST_F(ProxyStreamTest, ClientFollowsPublishesAndReconnects) {
  auto server = l7::ConfigServer::Start(socket_);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(std::filesystem::status(socket_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  (*server)->Publish(Config(1));

  std::mutex mutex;
  std::vector<uint64_t> seen;
  ConfigStreamClient client(socket_, [&](const api::L7Config& config) {
    std::lock_guard lock(mutex);
    seen.push_back(config.generation());
  });
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 1; }));
  (*server)->Publish(Config(2));
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 2; }));

  // The agent goes away: the client keeps generation 2, then reconnects to a new agent.
  (*server)->Shutdown();
  server->reset();
  EXPECT_EQ(client.last_generation(), 2u);
  auto again = l7::ConfigServer::Start(socket_);
  ASSERT_TRUE(again.ok()) << again.status();
  (*again)->Publish(Config(3));
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 3; }));
  client.Stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(ProxyStreamTest, ApplierRunsTheProxyBinaryAndRestartsIt) {
  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  l7::L7ApplierOptions options;
  options.socket_path = socket_;
  options.proxy_binary = XGATE_PROXY_BINARY;
  options.proxy_args = {"--workers", "1", "--access-log", (dir_ / "access.log").string()};
  auto applier = l7::L7Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();

  compiler::Snapshot snapshot;
  snapshot.l7.set_generation(1);
  api::Port* p = testing::AddHttpPort(snapshot.l7, port);
  testing::AddRoute(*testing::AddVirtualHost(*p, ""), "r", "/", "ns/up:80");
  testing::AddCluster(snapshot.l7, "ns/up:80", up);
  ASSERT_TRUE((*applier)->Apply(snapshot).ok());

  auto serves = [&] { return testing::Get(port, "h", "/via-binary").status == 200; };
  ASSERT_TRUE(WaitFor(serves)) << "proxy never served";
  pid_t first = (*applier)->proxy_pid();
  ASSERT_GT(first, 0);
  EXPECT_EQ((*applier)->proxy_starts(), 1);

  // The proxy dies: the applier starts another, which gets the current config.
  kill(first, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return (*applier)->proxy_starts() == 2; }));
  ASSERT_TRUE(WaitFor(serves)) << "restarted proxy never served";

  // The agent stops without --detach-on-exit: the proxy keeps serving its last config.
  pid_t second = (*applier)->proxy_pid();
  (*applier)->Stop(false);
  applier->reset();
  EXPECT_EQ(kill(second, 0), 0);
  EXPECT_TRUE(serves());
  EXPECT_TRUE(WaitFor([&] {
    return std::filesystem::exists(dir_ / "access.log") &&
           std::filesystem::file_size(dir_ / "access.log") > 0;
  }));
  kill(second, SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return waitpid(second, nullptr, WNOHANG) == second; }));
}

TEST_F(ProxyStreamTest, DetachStopsTheProxy) {
  l7::L7ApplierOptions options;
  options.socket_path = socket_;
  options.proxy_binary = XGATE_PROXY_BINARY;
  options.proxy_args = {"--workers", "1"};
  auto applier = l7::L7Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();
  compiler::Snapshot snapshot;
  snapshot.l7.set_generation(1);
  testing::AddHttpPort(snapshot.l7, testing::FreePort());
  ASSERT_TRUE((*applier)->Apply(snapshot).ok());
  ASSERT_TRUE(WaitFor([&] { return (*applier)->server().open_streams() == 1; }));
  pid_t pid = (*applier)->proxy_pid();
  (*applier)->Stop(true);
  EXPECT_EQ((*applier)->proxy_pid(), 0);
  EXPECT_NE(kill(pid, 0), 0);  // reaped
}

}  // namespace
}  // namespace xgate::proxy
