// The agent -> proxy config stream over a unix socket: the client sees every published
// config, keeps its last one when the agent goes away and reconnects; the L7Applier starts
// build/xgate-proxy, restarts it when it dies, and the proxy serves what was published.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/l7/config_server.h"
#include "agent/l7/l7_applier.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/config_stream.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

using testing::WaitFor;

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

  // An applier that runs build/xgate-proxy with `args` on this test's socket.
  std::unique_ptr<l7::L7Applier> Applier(std::vector<std::string> args) {
    l7::L7ApplierOptions options;
    options.socket_path = socket_;
    options.proxy_binary = XGATE_PROXY_BINARY;
    options.proxy_args = std::move(args);
    auto applier = l7::L7Applier::Create(options);
    EXPECT_TRUE(applier.ok()) << applier.status();
    return applier.ok() ? *std::move(applier) : nullptr;
  }

  // Generation 1: HTTP on `port`, every path of any host to `up`.
  static compiler::Snapshot OneRoute(uint16_t port, const testing::TestUpstream& up) {
    compiler::Snapshot snapshot;
    snapshot.l7.set_generation(1);
    api::Port* p = testing::AddHttpPort(snapshot.l7, port);
    testing::AddRoute(*testing::AddVirtualHost(*p, ""), "r", "/", "ns/up:80");
    testing::AddCluster(snapshot.l7, "ns/up:80", up);
    return snapshot;
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
    return absl::OkStatus();
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

// After the first config a proxy gets deltas; one it cannot take (not on the config it
// serves) ends the stream, and the next stream starts with the whole config.
TEST_F(ProxyStreamTest, LaterConfigsComeAsDeltasAndARefusedDeltaBringsTheWhole) {
  auto server = l7::ConfigServer::Start(socket_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto config = [&](uint64_t generation, int vhosts) {
    api::L7Config c = Config(generation);
    api::Port& port = *c.add_ports();
    port.set_port(80);
    api::Listener& listener = *port.add_listeners();
    listener.set_name("http");
    for (int i = 0; i < vhosts; ++i) {
      listener.add_virtual_hosts()->set_hostname("h" + std::to_string(i) + ".example.com");
    }
    return c;
  };
  (*server)->Publish(config(1, 3));
  std::mutex mutex;
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // generation, base
  bool refuse_next_delta = false;
  ConfigStreamClient client(socket_, [&](const api::L7Config& c) {
    std::lock_guard lock(mutex);
    seen.emplace_back(c.generation(), c.base_generation());
    if (c.base_generation() != 0 && refuse_next_delta) {
      refuse_next_delta = false;
      return absl::FailedPreconditionError("not on the served config");
    }
    return absl::OkStatus();
  });
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 1; }));
  (*server)->Publish(config(2, 4));
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 2; }));
  {
    std::lock_guard lock(mutex);
    refuse_next_delta = true;
  }
  (*server)->Publish(config(3, 5));
  ASSERT_TRUE(WaitFor([&] { return client.last_generation() == 3; }));
  client.Stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, uint64_t>>{{1, 0}, {2, 1}, {3, 2}, {3, 0}}));
}

TEST_F(ProxyStreamTest, ApplierRunsTheProxyBinaryAndRestartsIt) {
  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  auto applier = Applier({"--workers", "1", "--access-log", (dir_ / "access.log").string()});
  ASSERT_NE(applier, nullptr);
  compiler::Snapshot snapshot = OneRoute(port, up);
  ASSERT_TRUE(applier->Apply(snapshot).ok());

  auto serves = [&] { return testing::Get(port, "h", "/via-binary").status == 200; };
  ASSERT_TRUE(WaitFor(serves)) << "proxy never served";
  pid_t first = applier->proxy_pid();
  ASSERT_GT(first, 0);
  EXPECT_EQ(applier->proxy_starts(), 1);

  // The proxy dies: the applier starts another, which gets the current config.
  kill(first, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return applier->proxy_starts() == 2; }));
  ASSERT_TRUE(WaitFor(serves)) << "restarted proxy never served";

  // The agent stops without --detach-on-exit: the proxy keeps serving its last config.
  pid_t second = applier->proxy_pid();
  applier->Stop(false);
  applier.reset();
  EXPECT_EQ(kill(second, 0), 0);
  EXPECT_TRUE(serves());
  EXPECT_TRUE(WaitFor([&] {
    return std::filesystem::exists(dir_ / "access.log") &&
           std::filesystem::file_size(dir_ / "access.log") > 0;
  }));

  // A new agent on the same socket adopts the running proxy, which reconnects and takes
  // the new agent's config; --detach-on-exit then stops it.
  testing::TestUpstream other("other");
  auto next = Applier({"--workers", "1", "--access-log", (dir_ / "access.log").string()});
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->proxy_pid(), second);
  snapshot.l7.set_generation(2);
  snapshot.l7.clear_clusters();
  testing::AddCluster(snapshot.l7, "ns/up:80", other);
  ASSERT_TRUE(next->Apply(snapshot).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return testing::Get(port, "h", "/adopted").headers["x-upstream"] == "other"; }));
  EXPECT_EQ(next->proxy_starts(), 0);
  next->Stop(true);
  // Not the new agent's child: reap it here (the test process is its parent).
  EXPECT_TRUE(WaitFor([&] { return waitpid(second, nullptr, WNOHANG) == second; }));
}

// Started ahead of the first config (the agent expects L7 ports), the proxy is up and on the
// stream before anything is published, and the first config is served by that same process.
TEST_F(ProxyStreamTest, AProxyStartedAheadWaitsForItsFirstConfig) {
  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  auto applier = Applier({"--workers", "1"});
  ASSERT_NE(applier, nullptr);
  EXPECT_EQ(applier->proxy_starts(), 0);  // nothing published, nothing expected yet
  applier->StartProxyAhead();
  ASSERT_TRUE(WaitFor([&] { return applier->server().open_streams() == 1; }));
  pid_t ahead = applier->proxy_pid();
  ASSERT_GT(ahead, 0);

  ASSERT_TRUE(applier->Apply(OneRoute(port, up)).ok());
  ASSERT_TRUE(WaitFor([&] { return testing::Get(port, "h", "/ahead").status == 200; }));
  EXPECT_EQ(applier->proxy_pid(), ahead);
  EXPECT_EQ(applier->proxy_starts(), 1);
  applier->Stop(true);
}

TEST_F(ProxyStreamTest, DetachStopsTheProxy) {
  auto applier = Applier({"--workers", "1"});
  ASSERT_NE(applier, nullptr);
  compiler::Snapshot snapshot;
  snapshot.l7.set_generation(1);
  testing::AddHttpPort(snapshot.l7, testing::FreePort());
  ASSERT_TRUE(applier->Apply(snapshot).ok());
  ASSERT_TRUE(WaitFor([&] { return applier->server().open_streams() == 1; }));
  pid_t pid = applier->proxy_pid();
  applier->Stop(true);
  EXPECT_EQ(applier->proxy_pid(), 0);
  EXPECT_NE(kill(pid, 0), 0);  // reaped
}

// Runs build/xgate-proxy with `args`; returns its pid.
pid_t RunProxy(std::vector<std::string> args, const std::string& stderr_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(XGATE_PROXY_BINARY)};
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(XGATE_PROXY_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

TEST_F(ProxyStreamTest, ProxyLoadsConfigFileInTextOrJson) {
  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  api::L7Config config;
  config.set_generation(7);
  api::Port* p = testing::AddHttpPort(config, port);
  testing::AddRoute(*testing::AddVirtualHost(*p, ""), "r", "/", "ns/up:80");
  testing::AddCluster(config, "ns/up:80", up);

  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(config, &json).ok());
  for (const auto& [name, content] :
       {std::pair{"config.txtpb", text}, std::pair{"config.json", json}}) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    pid_t pid = RunProxy(
        {"--config", path, "--workers", "1", "--access-log", (dir_ / "access.log").string()},
        (dir_ / "stderr").string());
    bool served = WaitFor([&] { return testing::Get(port, "h", "/file").status == 200; });
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(served) << name;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << name;
  }

  // A broken file: a clear error naming the file and line, exit 1.
  std::string bad = (dir_ / "bad.txtpb").string();
  std::ofstream(bad) << "generation: 1\nports { port: \"eighty\" }\n";
  pid_t pid = RunProxy({"--config", bad}, (dir_ / "stderr").string());
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  std::ifstream err(dir_ / "stderr");
  std::string message((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(message.find("bad.txtpb"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

}  // namespace
}  // namespace xgate::proxy
