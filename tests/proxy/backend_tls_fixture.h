// What the backend TLS suites (proxy_backend_tls_test, proxy_backend_h2tls_test) share: an
// HTTP/1.1 TLS echo serving a given certificate, and a one-worker proxy with one HTTP port
// whose config a test fills, applies once, and whose TLS errors per cluster it reads.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "tools/echo/echo.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy::testing {

// xgate-echo's HTTP/1.1 mode over TLS with `pem` (no ALPN choice), pod `pod` of namespace
// web, on a loopback port (0 if it did not start); with `client_ca_pem`, it requires a client
// certificate that chains to it. It never stops: the process ends it.
inline uint16_t StartTlsEcho(const Pem& pem, const std::string& pod,
                             const std::string& client_ca_pem = "") {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              ("backend-tls-" + std::to_string(getpid()) + "-" + pod);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tls.crt") << pem.cert;
  std::ofstream(dir / "tls.key") << pem.key;
  echo::EchoConfig config;
  config.listen = {"127.0.0.1:0"};
  config.tls_cert = (dir / "tls.crt").string();
  config.tls_key = (dir / "tls.key").string();
  if (!client_ca_pem.empty()) {
    std::ofstream(dir / "client-ca.crt") << client_ca_pem;
    config.tls_client_ca = (dir / "client-ca.crt").string();
  }
  config.ns = "web";
  config.pod = pod;
  auto* server = new echo::EchoServer(config);
  if (!server->Start().ok()) return 0;
  std::thread([server] { server->Serve(); }).detach();
  return static_cast<uint16_t>(server->tcp_ports()[0]);
}

class BackendTlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    port_ = FreePort();
    ServerOptions options;
    options.workers = 1;
    options.upstream.connect_timeout = std::chrono::seconds(2);
    server_ = std::make_unique<Server>(options);
    server_->Start();
    config_.set_generation(1);
    vhost_ = AddVirtualHost(*AddHttpPort(config_, port_, {"127.0.0.1"}), "");
  }

  void TearDown() override {
    server_->Stop();
    AccessLog::Disable();
  }

  // A cluster NAME with one endpoint, 127.0.0.1:`port`.
  api::Cluster* AddLoopbackCluster(const std::string& name, uint16_t port) {
    api::Cluster* cluster = config_.add_clusters();
    cluster->set_name(name);
    api::Endpoint* endpoint = cluster->add_endpoints();
    endpoint->set_address("127.0.0.1");
    endpoint->set_port(port);
    return cluster;
  }

  void Apply() {
    ASSERT_TRUE(server_->Apply(config_).ok());
    ASSERT_TRUE(server_->WaitApplied(1, std::chrono::seconds(5)));
  }

  uint64_t TlsErrors(const std::string& cluster) {
    api::ProxyStats stats = server_->Stats();
    for (const auto& c : stats.clusters()) {
      if (c.cluster() == cluster) return c.tls_errors();
    }
    return 0;
  }

  uint16_t port_ = 0;
  api::L7Config config_;
  api::VirtualHost* vhost_ = nullptr;
  std::unique_ptr<Server> server_;
};

}  // namespace xgate::proxy::testing
