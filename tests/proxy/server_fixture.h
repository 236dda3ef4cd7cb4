// The fixture of the in-process proxy tests: a Server on a free loopback port, configs
// applied with increasing generations.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {

using namespace std::chrono_literals;

class ProxyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    port_ = testing::FreePort();
    ASSERT_NE(port_, 0);
  }
  void StartServer(int workers = 2, std::chrono::milliseconds header_timeout = 15s,
                   std::chrono::milliseconds idle_timeout = 60s) {
    ServerOptions options;
    options.idle_timeout = idle_timeout;
    options.workers = workers;
    options.header_timeout = header_timeout;
    options.upstream.connect_timeout = 2s;
    server_ = std::make_unique<Server>(options);
    server_->Start();
  }
  void Apply(api::L7Config config) {
    if (!server_) StartServer();
    config.set_generation(++generation_);
    ASSERT_TRUE(server_->Apply(config).ok());
    ASSERT_TRUE(server_->WaitApplied(generation_, 5s));
  }
  // One port, catch-all host, prefix "/" to `upstream`.
  api::L7Config Simple(testing::TestUpstream& upstream) {
    api::L7Config config;
    api::Port* port = testing::AddHttpPort(config, port_);
    testing::AddRoute(*testing::AddVirtualHost(*port, ""), "all", "/", "ns/up:80");
    testing::AddCluster(config, "ns/up:80", upstream);
    return config;
  }

  uint16_t port_ = 0;
  uint64_t generation_ = 0;
  std::unique_ptr<Server> server_;
};

}  // namespace xgate::proxy
