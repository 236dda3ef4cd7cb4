// A backend that goes silent on a pooled keep-alive connection (a host gone dark: no RST, no
// FIN, nothing acknowledged). TCP_USER_TIMEOUT (xgate-proxy --upstream-user-timeout) aborts
// the connection; a GET on it is tried on another endpoint, a POST whose bytes went out gets
// its 504 then, not after the request timeout. The silence is a socket filter that drops every
// segment to the backend's socket (no privileges needed): the proxy's bytes go unacknowledged
// as across a dropping firewall. The assertions are on the outcome: the request timeout is a
// minute and the client waits 30 s, so without the abort the answer is never the one expected.
// And TCP keepalive (--upstream-keepalive-idle) closes such a connection while it idles in the
// pool, long before the pool's idle timeout (a minute).
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy {
namespace {

using testing::TestUpstream;

// Answers one request on its first connection (keep-alive, so the proxy pools it) and, once the
// answer is acknowledged, drops every segment that reaches that connection: silenced().
class SilentUpstream {
 public:
  SilentUpstream() {
    listen_fd_ = testing::ListenLoopback(&port_);
    if (listen_fd_ < 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~SilentUpstream() {
    shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
    if (connection_fd_ >= 0) close(connection_fd_);
  }
  uint16_t port() const { return port_; }
  bool silenced() const { return silenced_; }

 private:
  void Serve() {
    connection_fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection_fd_ < 0) return;
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(connection_fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    std::string answer = "HTTP/1.1 200 OK\r\nX-Upstream: silent\r\nContent-Length: 0\r\n\r\n";
    if (send(connection_fd_, answer.data(), answer.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(answer.size())) {
      return;
    }
    // Acknowledged first, or this side would retransmit it into the filter, and each copy
    // reaching the proxy would count there as the peer being alive.
    bool acknowledged = testing::WaitFor([this] {
      tcp_info info{};
      socklen_t length = sizeof(info);
      return getsockopt(connection_fd_, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
             info.tcpi_unacked == 0;
    });
    sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
    sock_fprog program{.len = 1, .filter = &drop_all};
    if (!acknowledged ||
        setsockopt(connection_fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0) {
      ADD_FAILURE() << "cannot silence the connection";
      return;
    }
    silenced_ = true;
    // Holds the connection (and any other accepted) until the destructor's shutdown.
    while (true) {
      int other = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (other < 0) return;
      close(other);
    }
  }

  int listen_fd_ = -1;
  int connection_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> silenced_{false};
  std::thread thread_;
};

class SilentUpstreamTest : public ProxyServerTest {
 protected:
  // One worker (one pool, a predictable round-robin), a short user timeout, a request timeout
  // of a minute. The cluster's endpoints: the silent one first, then `good`.
  void Start(SilentUpstream& silent, TestUpstream& good,
             std::chrono::milliseconds keepalive_idle = 15s) {
    ServerOptions options;
    options.workers = 1;
    options.upstream.user_timeout = 300ms;
    options.upstream.keepalive_idle = keepalive_idle;
    options.upstream.keepalive_interval = 1s;
    options.upstream.idle_timeout = 60s;
    options.limits.request_timeout = 60s;
    server_ = std::make_unique<Server>(options);
    server_->Start();
    api::L7Config config;
    api::Port* port = testing::AddHttpPort(config, port_);
    testing::AddRoute(*testing::AddVirtualHost(*port, ""), "all", "/", "ns/up:80");
    api::Cluster* cluster = config.add_clusters();
    cluster->set_name("ns/up:80");
    for (uint16_t endpoint_port : {silent.port(), good.port()}) {
      api::Endpoint* endpoint = cluster->add_endpoints();
      endpoint->set_address("127.0.0.1");
      endpoint->set_port(endpoint_port);
    }
    Apply(config);
    // The round-robin's first pick is the silent endpoint, which answers and is pooled; the
    // second is the good one. The next request goes to the pooled silent connection.
    EXPECT_EQ(testing::Get(port_, "h", "/1").headers["x-upstream"], "silent");
    ASSERT_TRUE(testing::WaitFor([&] { return silent.silenced(); }));
    EXPECT_EQ(testing::Get(port_, "h", "/2").headers["x-upstream"], "good");
  }
  testing::Response Send(const std::string& request, const std::string& method) {
    testing::Client client("127.0.0.1", port_);
    client.Send(request);
    return client.Read(method, 30s);
  }
  api::ProxyClusterStats Cluster() {
    api::ProxyStats stats = server_->Stats();
    for (const auto& cluster : stats.clusters()) {
      if (cluster.cluster() == "ns/up:80") return cluster;
    }
    return {};
  }
  uint64_t ClusterRetries() { return Cluster().retries(); }
};

TEST_F(SilentUpstreamTest, GetOnASilentPooledConnectionIsServedByAnotherEndpoint) {
  SilentUpstream silent;
  TestUpstream good("good");
  Start(silent, good);
  testing::Response r = Send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n", "GET");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-upstream"], "good");
  EXPECT_EQ(good.request_count(), 2u);
  EXPECT_EQ(ClusterRetries(), 1u);
}

TEST_F(SilentUpstreamTest, PostOnASilentPooledConnectionGetsItsTimeout) {
  SilentUpstream silent;
  TestUpstream good("good");
  Start(silent, good);
  testing::Response r =
      Send("POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody", "POST");
  EXPECT_EQ(r.status, 504);  // its bytes went out: not sent again
  EXPECT_EQ(good.request_count(), 1u);
  EXPECT_EQ(ClusterRetries(), 0u);
}

// Both endpoints' connections idle in the pool; keepalive probes go unanswered on the silent
// one only, which the kernel aborts and the pool closes; the good one stays.
TEST_F(SilentUpstreamTest, KeepaliveClosesASilentIdlePooledConnection) {
  SilentUpstream silent;
  TestUpstream good("good");
  Start(silent, good, /*keepalive_idle=*/1s);
  EXPECT_TRUE(testing::WaitFor([&] { return Cluster().connections_idle() == 1; }, 20s))
      << "idle connections: " << Cluster().connections_idle();
  EXPECT_EQ(Cluster().connections_open(), 1u);
  testing::Response r = Send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n", "GET");
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace xgate::proxy
