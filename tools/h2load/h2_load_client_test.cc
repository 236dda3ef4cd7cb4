// xgate-h2load's client across a graceful proxy restart, in process: proxy A serves HTTP/2 over
// TLS, the load runs on two connections, then A hands its listening sockets to proxy B and
// drains (GOAWAY to each connection). A correct client finishes the streams at or below the
// last-stream-id, sends those above it again on a new connection (to B), and so sees no
// failure. The assertions are on the counts, not on timing.
#include "tools/h2load/h2_load_client.h"

#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <iostream>
#include <memory>

#include "tests/proxy/hostile.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::h2load {
namespace {

using namespace std::chrono_literals;
using proxy::Server;
using proxy::ServerOptions;
using proxy::testing::HttpAndHttpsConfig;
using proxy::testing::TestUpstream;

std::unique_ptr<Server> StartProxy(const api::L7Config& config,
                                   std::vector<proxy::HandedGroup> inherited = {}) {
  ServerOptions options;
  options.workers = 2;
  auto server = std::make_unique<Server>(options);
  if (!inherited.empty()) server->InheritListeners(std::move(inherited));
  server->Start();
  EXPECT_TRUE(server->Apply(config).ok());
  EXPECT_TRUE(server->WaitApplied(config.generation(), 5s));
  return server;
}

TEST(H2LoadClientTest, StreamsSurviveAGracefulProxyRestart) {
  signal(SIGPIPE, SIG_IGN);
  proxy::AccessLog::Disable();
  TestUpstream upstream("up");
  uint16_t http_port = proxy::testing::FreePort();
  uint16_t https_port = proxy::testing::FreePort();
  api::L7Config config = HttpAndHttpsConfig(http_port, https_port, upstream);
  std::unique_ptr<Server> old_proxy = StartProxy(config);

  LoadOptions options;
  options.address = "127.0.0.1";
  options.port = https_port;
  options.authority = proxy::testing::kH2Sni;
  options.connections = 2;
  options.streams = 8;
  options.duration = 4s;
  auto load = std::async(std::launch::async, [&] { return RunLoad(options); });

  ASSERT_TRUE(proxy::testing::WaitFor([&] { return upstream.request_count() >= 100; }));
  std::unique_ptr<Server> new_proxy = StartProxy(config, old_proxy->ReleaseListeners());
  old_proxy->Drain();

  absl::StatusOr<LoadResult> result = load.get();
  ASSERT_TRUE(result.ok()) << result.status();
  for (const std::string& error : result->errors) ADD_FAILURE() << error;
  EXPECT_EQ(result->failed, 0u);
  EXPECT_EQ(result->connect_errors, 0u);
  EXPECT_GT(result->completed, 100u);
  EXPECT_EQ(result->ok_2xx, result->completed);
  // Each old connection got the drain's GOAWAYs and was replaced by one to the new proxy.
  EXPECT_GE(result->goaways, 2u);
  EXPECT_GE(result->connections, 4u);
  EXPECT_GT(new_proxy->Stats().requests_size(), 0);
  std::cout << "h2 load across the restart: " << result->completed << " requests, "
            << result->retried << " retried after GOAWAY/REFUSED_STREAM, " << result->goaways
            << " GOAWAYs, " << result->connections << " connections\n";
  old_proxy->Stop();
}

}  // namespace
}  // namespace xgate::h2load
