// HTTP/2 backends that fail (h2c, and h2 over TLS): the real proxy on loopback in front of an
// nghttp2 backend (tests/proxy/h2_backend.h) told to refuse connections, close after a
// request's HEADERS, send GOAWAY below streams in flight or reset streams with REFUSED_STREAM,
// and a second one that serves. And backends that hold a zero window (HTTP/2 with
// SETTINGS_INITIAL_WINDOW_SIZE 0, HTTP/1.1 that never reads) while a client POSTs: the request
// ends (at a route timeout, the request timeout, the user timeout or, HTTP/2, the upstream
// stall timeout) and the proxy's memory stays bounded. A well-behaved client on another route of
// the same worker is served throughout every test.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/proxy/h2_backend.h"
#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "tools/conformance/grpc_client.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;
using testing::H2Backend;
using Behavior = testing::H2Backend::Behavior;

constexpr int kGrpcUnavailable = 14;
constexpr const char* kCluster = "ns/h2:80";

const testing::Pem& BackendCert() {
  static const testing::Pem pem =
      testing::MakeCertificate("backend.example", "DNS:backend.example");
  return pem;
}

class UpstreamFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    port_ = testing::FreePort();
    good_upstream_ = std::make_unique<testing::TestUpstream>("good");
  }
  void TearDown() override {
    if (good_) {
      good_->Stop();
      EXPECT_EQ(good_->failed(), 0) << "the client on the other route was not served throughout";
    }
    if (server_) server_->Stop();
  }

  // One worker (the endpoints' round-robin starts at the first), "/good" to an HTTP/1.1
  // upstream, everything else to the cluster with `endpoints`: HTTP/2 (over TLS when `tls`),
  // or HTTP/1.1 when not `h2`.
  void Start(const std::vector<uint16_t>& endpoints, bool tls = false,
             uint64_t backend_timeout_ms = 0, ServerOptions options = {}, bool h2 = true,
             const api::Retry* retry = nullptr) {
    options.workers = 1;
    options.upstream.connect_timeout = 2s;
    server_ = std::make_unique<Server>(options);
    server_->Start();
    api::L7Config config;
    config.set_generation(1);
    api::VirtualHost* vhost =
        testing::AddVirtualHost(*testing::AddHttpPort(config, port_, {"127.0.0.1"}), "");
    testing::AddRoute(*vhost, "good", "/good", "good");
    testing::AddCluster(config, "good", *good_upstream_);
    api::Route* route = testing::AddRoute(*vhost, "failing", "/", kCluster);
    if (backend_timeout_ms > 0) route->set_backend_request_timeout_ms(backend_timeout_ms);
    if (retry != nullptr) *route->mutable_retry() = *retry;
    for (uint16_t port : endpoints) testing::AddEndpoint(config, kCluster, "127.0.0.1", port);
    api::Cluster* cluster = config.mutable_clusters(config.clusters_size() - 1);
    if (h2) cluster->set_protocol(api::H2C);
    if (tls) {
      cluster->mutable_tls()->set_ca_pem(BackendCert().cert);
      cluster->mutable_tls()->set_sni("backend.example");
    }
    ASSERT_TRUE(server_->Apply(config).ok());
    ASSERT_TRUE(server_->WaitApplied(1, 5s));
    good_ = std::make_unique<testing::WellBehavedClient>(port_);
    ASSERT_TRUE(good_->WaitServed(3));
  }

  testing::Response Get(const std::string& path) { return testing::Get(port_, "h2.example", path); }
  testing::Response Post(const std::string& path, const std::string& body = "hello") {
    testing::Client client("127.0.0.1", port_);
    client.Send("POST " + path + " HTTP/1.1\r\nHost: h2.example\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    return client.Read("POST", 15s);
  }
  conformance::GrpcAnswer Call() {
    int fd = testing::ConnectLoopback(port_);
    EXPECT_GE(fd, 0);
    auto answer = conformance::CallGrpcEcho(fd, "grpc.example", "Echo", {}, absl::Seconds(10));
    EXPECT_TRUE(answer.ok()) << answer.status();
    conformance::GrpcAnswer failed;
    failed.code = -1;
    return answer.ok() ? *answer : failed;
  }
  // The response was a 200 from the backend named `name` (its x-backend header).
  static void ExpectServedBy(testing::Response& r, const std::string& name) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["x-backend"], name);
  }
  // (b) a closes after a request's HEADERS, b serves; the round-robin starts at a.
  void ExpectCloseAfterHeaders(H2Backend& a, H2Backend& b) {
    // The first POST meets the close and gets 502 (a may have acted on it); the next goes to b.
    testing::Response post = Post("/p0");
    EXPECT_EQ(post.status, 502) << post.body;
    EXPECT_EQ(a.headers_seen(), 1);
    post = Post("/p1");
    ExpectServedBy(post, "b");
    // GETs meet the close at a until its fifth failure ejects it; each is answered by b.
    for (int i = 0; i < 8; ++i) {
      testing::Response get = Get("/g" + std::to_string(i));
      ExpectServedBy(get, "b");
    }
    EXPECT_EQ(a.headers_seen(), 5);
    EXPECT_EQ(a.served(), 0);
    EXPECT_EQ(b.served(), 9);
    api::ProxyClusterStats stats = Cluster();
    EXPECT_EQ(stats.ejections(), 1u);
    EXPECT_EQ(stats.retries(), 4u);  // the 4 GETs that met the close
  }

  // (c) a sends GOAWAY with the first of three streams in flight as the last, then closes.
  void ExpectGoawayBelowStreamsInFlight(bool tls) {
    H2Backend a("a", tls ? &BackendCert() : nullptr);
    a.set_behavior(Behavior::kGoaway);
    a.set_goaway_streams(3);
    Start({a.port()}, tls);
    std::vector<int> statuses(3);
    std::vector<std::thread> clients;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back([&, i] { statuses[i] = Post("/p" + std::to_string(i)).status; });
      // In order, so that the first request is the connection's first stream.
      EXPECT_TRUE(testing::WaitFor([&] { return a.headers_seen() >= i + 1; }, 5s))
          << a.headers_seen() << " requests seen, " << i + 1 << " sent";
    }
    for (auto& client : clients) client.join();
    EXPECT_EQ(statuses[0], 502);
    EXPECT_EQ(statuses[1], 200);
    EXPECT_EQ(statuses[2], 200);
    EXPECT_EQ(a.connections(), 2);
    EXPECT_EQ(a.served_paths(), (std::vector<std::string>{"/p1", "/p2"}));
    // The counters: a second connection; the refusals are not held against the endpoint, the
    // close that failed the first stream is (one failure, no ejection).
    api::ProxyClusterStats stats = Cluster();
    EXPECT_EQ(stats.connects(), 2u);
    EXPECT_EQ(stats.ejections(), 0u);
    EXPECT_EQ(stats.h2_refused(), 2u);
    EXPECT_EQ(Post("/after").status, 200);
  }

  // The failing route's one endpoint: an HTTP/2 backend that holds a zero window
  // (`behavior`), in front of a proxy with `options` and no route timeout.
  std::unique_ptr<H2Backend> StartZeroWindow(ServerOptions options,
                                             Behavior behavior = Behavior::kZeroWindow) {
    auto zero = std::make_unique<H2Backend>("zero");
    zero->set_behavior(behavior);
    Start({zero->port()}, false, 0, options);
    return zero;
  }
  // An upstream stall timeout of 300 ms.
  static ServerOptions StallAfter300ms() {
    ServerOptions options;
    options.upstream.h2_stall_timeout = 300ms;
    return options;
  }

  api::ProxyClusterStats Cluster() {
    api::ProxyStats stats = server_->Stats();
    for (const auto& c : stats.clusters()) {
      if (c.cluster() == kCluster) return c;
    }
    return {};
  }

  uint16_t port_ = 0;
  std::unique_ptr<testing::TestUpstream> good_upstream_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<testing::WellBehavedClient> good_;
};

// (a) One endpoint refuses connections: every request, GET or POST, is served by the other.
TEST_F(UpstreamFailureTest, ConnectRefusedOnOneEndpointEveryRequestServedByTheOther) {
  H2Backend b("b");
  uint16_t refused = testing::FreePort();  // nothing listens there
  Start({refused, b.port()});
  for (int i = 0; i < 10; ++i) {
    testing::Response get = Get("/g" + std::to_string(i));
    ExpectServedBy(get, "b");
    testing::Response post = Post("/p" + std::to_string(i));
    EXPECT_EQ(post.status, 200) << post.body;
  }
  // The round-robin visits the refusing endpoint on every request until its fifth refusal
  // ejects it (for 5 s): each refusal counted once, in connect_errors and in its health.
  api::ProxyClusterStats stats = Cluster();
  EXPECT_EQ(stats.connect_errors(), 5u);
  EXPECT_EQ(stats.ejections(), 1u);
  EXPECT_EQ(stats.retries(), 5u);
  EXPECT_EQ(b.served(), 20);
}

// (b) The backend closes the connection after a request's HEADERS, before any answer: a GET is
// tried again on the other endpoint; a POST (which the backend may have acted on) gets 502.
// The round-robin starts at a: the first POST meets the close and gets 502, the second goes to
// b; then GETs, each meeting the close at a until a's fifth failure ejects it, answered by b.
TEST_F(UpstreamFailureTest, CloseAfterHeadersGetFailsOverPostGets502) {
  H2Backend a("a"), b("b");
  a.set_behavior(Behavior::kCloseAfterHeaders);
  Start({a.port(), b.port()});
  ExpectCloseAfterHeaders(a, b);
}

// (e) The same over TLS (h2 by ALPN).
TEST_F(UpstreamFailureTest, TlsCloseAfterHeadersGetFailsOverPostGets502) {
  H2Backend a("a", &BackendCert()), b("b", &BackendCert());
  a.set_behavior(Behavior::kCloseAfterHeaders);
  Start({a.port(), b.port()}, /*tls=*/true);
  ExpectCloseAfterHeaders(a, b);
  EXPECT_EQ(Cluster().tls_errors(), 0u);
}

// (b) with streams in flight together: a holds its requests until the fourth, then closes.
// Each GET among them is answered by b, each POST gets 502; none waits.
TEST_F(UpstreamFailureTest, CloseWithStreamsInFlightFailsOverTheGetsOnly) {
  H2Backend a("a"), b("b");
  a.set_behavior(Behavior::kCloseAfterHeaders);
  a.set_close_after(4);
  Start({a.port(), b.port()});
  constexpr int kRequests = 7;  // the round-robin: a gets 0, 2, 4, 6 (then closes)
  std::vector<testing::Response> answers(kRequests);
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    bool post = i % 4 == 2;  // 2 and 6, both to a
    std::string path = "/r" + std::to_string(i);
    clients.emplace_back([&, i, post, path] { answers[i] = post ? Post(path) : Get(path); });
    // One at a time, so that the round-robin takes them in order.
    EXPECT_TRUE(testing::WaitFor([&] { return a.headers_seen() + b.headers_seen() >= i + 1; }, 5s));
  }
  for (auto& client : clients) client.join();
  for (int i = 0; i < kRequests; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    if (i % 4 == 2) {
      EXPECT_EQ(answers[i].status, 502) << answers[i].body;
    } else {
      ExpectServedBy(answers[i], "b");
    }
  }
  EXPECT_EQ(a.headers_seen(), 4);
  EXPECT_EQ(b.served(), 5);
  EXPECT_EQ(Cluster().retries(), 2u);  // the two GETs a held
}

// (b) with one endpoint and the rule's retry policy: the GET that met the close is tried again
// on the same endpoint after the backoff, on a new connection, and answered; counted as a
// retry for a reset.
TEST_F(UpstreamFailureTest, CloseAfterHeadersGetRetriedByTheRulesPolicy) {
  H2Backend a("a");
  a.set_behavior(Behavior::kCloseAfterHeaders);
  a.set_times(1);
  api::Retry retry;
  retry.set_attempts(2);
  retry.set_backoff_ms(10);
  Start({a.port()}, false, 0, {}, true, &retry);
  testing::Response get = Get("/once");
  EXPECT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(a.headers_seen(), 2);
  EXPECT_EQ(a.connections(), 2);
  api::ProxyStats stats = server_->Stats();
  uint64_t reset_retries = 0;
  for (const auto& r : stats.route_retries()) {
    if (r.reason() == "reset") reset_retries += r.count();
  }
  EXPECT_EQ(reset_retries, 1u);
  // A POST the backend may have acted on is not sent again, even under the policy.
  a.set_times(1);
  EXPECT_EQ(Post("/post").status, 502);
}

// (b) for gRPC: a call the backend may have acted on ends trailers-only, UNAVAILABLE, at once.
TEST_F(UpstreamFailureTest, GrpcCallToABackendThatClosesIsUnavailableNotAHang) {
  H2Backend a("a");
  a.set_behavior(Behavior::kCloseAfterHeaders);
  Start({a.port()});
  auto start = std::chrono::steady_clock::now();
  conformance::GrpcAnswer answer = Call();
  EXPECT_EQ(answer.code, kGrpcUnavailable) << answer.message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 9s) << "the call waited for its deadline";
  EXPECT_EQ(a.headers_seen(), 1);
}

// (c) GOAWAY whose last stream id is the first of three streams in flight, then the connection
// closes: the two the backend never processed are sent again on a new connection (RFC 9113
// 6.8); the first, which it may have acted on, is a POST and gets 502.
TEST_F(UpstreamFailureTest, GoawayBelowStreamsInFlightResendsTheUnprocessedOnes) {
  ExpectGoawayBelowStreamsInFlight(/*tls=*/false);
}

TEST_F(UpstreamFailureTest, TlsGoawayBelowStreamsInFlightResendsTheUnprocessedOnes) {
  ExpectGoawayBelowStreamsInFlight(/*tls=*/true);
}

// (d) RST_STREAM REFUSED_STREAM: the backend did not act on it, so even a POST is sent again.
TEST_F(UpstreamFailureTest, RefusedStreamIsSentAgain) {
  H2Backend a("a");
  a.set_behavior(Behavior::kRefuse);
  a.set_times(1);
  Start({a.port()});
  testing::Response post = Post("/once");
  EXPECT_EQ(post.status, 200) << post.body;
  EXPECT_EQ(a.headers_seen(), 2);
  EXPECT_EQ(a.served(), 1);
  EXPECT_EQ(Cluster().h2_refused(), 1u);
  EXPECT_EQ(Cluster().ejections(), 0u);
}

TEST_F(UpstreamFailureTest, AlwaysRefusedStreamGoesToTheOtherEndpoint) {
  H2Backend a("a"), b("b");
  a.set_behavior(Behavior::kRefuse);

  Start({a.port(), b.port()});
  for (int i = 0; i < 5; ++i) {
    testing::Response post = Post("/p" + std::to_string(i));
    ExpectServedBy(post, "b");
  }
  EXPECT_GE(a.headers_seen(), 1);
  EXPECT_EQ(a.served(), 0);
  EXPECT_EQ(Cluster().h2_refused(), static_cast<uint64_t>(a.headers_seen()));
}

// ---- Backends that hold a zero window while a client POSTs a body larger than every buffer.

// An HTTP/1.1 backend that accepts and never reads: its small receive buffer fills, the kernel
// advertises a zero window, and the proxy's writes stop.
class NeverReadingBackend {
 public:
  NeverReadingBackend() {
    listen_fd_ = testing::ListenLoopback(&port_);
    int small = 16 * 1024;
    setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));  // accepted ones inherit
    thread_ = std::thread([this] {
      while (true) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        held_.push_back(fd);
      }
    });
  }
  ~NeverReadingBackend() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    for (int fd : held_) close(fd);
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> held_;
  std::thread thread_;
};

struct StalledPost {
  int status = 0;
  size_t sent = 0;  // body bytes the proxy had taken from the client when the answer came
  std::chrono::milliseconds took{0};
  std::string raw;  // with `until_closed`: every byte of the answer
};

// What the server sent until it closed the connection (or `timeout` passed).
std::string ReadUntilClosed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// POSTs a 256 MiB body (Content-Length) as fast as the proxy takes it, until the answer comes
// (with `until_closed`: until the proxy closes the connection; the status is the first line's).
StalledPost PostForever(uint16_t port, bool until_closed = false) {
  constexpr size_t kBody = size_t{256} << 20;
  testing::Client client("127.0.0.1", port);
  client.Send("POST /upload HTTP/1.1\r\nHost: h2.example\r\nContent-Length: " +
              std::to_string(kBody) + "\r\n\r\n");
  std::atomic<bool> answered{false};
  std::atomic<size_t> sent{0};
  std::thread writer([&] {
    const std::string chunk(64 * 1024, 'z');
    while (!answered && sent < kBody) {
      pollfd p{client.fd(), POLLOUT, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = send(client.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN) return;
      if (n > 0) sent += static_cast<size_t>(n);
    }
  });
  auto start = std::chrono::steady_clock::now();
  StalledPost out;
  if (until_closed) {
    out.raw = ReadUntilClosed(client.fd(), 30s);
    std::from_chars(out.raw.data() + std::min<size_t>(9, out.raw.size()),
                    out.raw.data() + std::min<size_t>(12, out.raw.size()), out.status);
  } else {
    out.status = client.Read("POST", 30s).status;
  }
  out.sent = sent;
  answered = true;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  writer.join();
  printf("stalled POST: %d after %lld ms, %zu body bytes taken\n", out.status,
         static_cast<long long>(out.took.count()), out.sent);
  return out;
}

// What the proxy may hold of one stalled request: its buffer caps (1 MiB per direction) and
// the replay copy, plus what the kernel buffers on the two sockets. Without the caps the
// proxy takes the body as fast as loopback carries it: hundreds of MiB in a second.
constexpr size_t kBoundedBody = 32 << 20;

TEST_F(UpstreamFailureTest, H2ZeroWindowBackendPostEndsWithTheBackendTimeoutBounded) {
  H2Backend zero("zero");
  zero.set_behavior(Behavior::kZeroWindow);
  Start({zero.port()}, false, /*backend_timeout_ms=*/1000);
  size_t rss = testing::RssBytes();
  testing::ResetPeakRss();
  StalledPost post = PostForever(port_);
  EXPECT_EQ(post.status, 504);
  EXPECT_LT(post.sent, kBoundedBody);
  EXPECT_LT(testing::PeakRssBytes(), rss + kBoundedBody) << "the proxy held the body";
  EXPECT_EQ(zero.headers_seen(), 1);
  EXPECT_EQ(Get("/after").status, 200) << "the backend's other streams still work";
}

TEST_F(UpstreamFailureTest, H2ZeroWindowBackendPostEndsWithTheRequestTimeout) {
  ServerOptions options;
  options.limits.request_timeout = 1500ms;
  auto zero = StartZeroWindow(options);
  StalledPost post = PostForever(port_);
  EXPECT_EQ(post.status, 504);
  EXPECT_LT(post.sent, kBoundedBody);
}

// No route timeout and the 300 s request timeout: the upstream stall timeout resets the
// stream whose body the backend's zero window holds, and the request gets 504. Counted per
// backend; not held against the endpoint (five in a row, the ejection threshold, and the
// backend still gets the next request), not sent again.
TEST_F(UpstreamFailureTest, H2ZeroWindowBackendPostEndsAtTheStallTimeout) {
  auto zero = StartZeroWindow(StallAfter300ms());
  size_t rss = testing::RssBytes();
  testing::ResetPeakRss();
  for (int i = 0; i < 5; ++i) {
    StalledPost post = PostForever(port_);
    EXPECT_EQ(post.status, 504);
    EXPECT_LT(post.sent, kBoundedBody);
  }
  EXPECT_LT(testing::PeakRssBytes(), rss + kBoundedBody) << "the proxy held the bodies";
  api::ProxyClusterStats stats = Cluster();
  EXPECT_EQ(stats.h2_stalled(), 5u);
  EXPECT_EQ(stats.ejections(), 0u);
  EXPECT_EQ(stats.retries(), 0u);
  EXPECT_EQ(zero->headers_seen(), 5);
  testing::Response after = Get("/after");
  ExpectServedBy(after, "zero");
}

// The backend's response started before its window stalled the body: the answer is aborted
// (the HTTP/1.1 client sees the head and a close without the last chunk).
TEST_F(UpstreamFailureTest, H2ZeroWindowAfterTheResponseStartedAbortsIt) {
  auto zero = StartZeroWindow(StallAfter300ms(), Behavior::kZeroWindowAnswerFirst);
  StalledPost post = PostForever(port_, /*until_closed=*/true);
  EXPECT_EQ(post.status, 200) << post.raw;
  EXPECT_NE(post.raw.find("x-backend: zero"), std::string::npos) << post.raw;
  EXPECT_EQ(post.raw.find("0\r\n\r\n"), std::string::npos) << "ended as if complete";
  EXPECT_LT(post.sent, kBoundedBody);
  EXPECT_EQ(Cluster().h2_stalled(), 1u);
}

TEST_F(UpstreamFailureTest, Http1BackendThatNeverReadsEndsWithTheBackendTimeoutBounded) {
  NeverReadingBackend never;
  Start({never.port()}, false, /*backend_timeout_ms=*/1000, {}, /*h2=*/false);
  size_t rss = testing::RssBytes();
  testing::ResetPeakRss();
  StalledPost post = PostForever(port_);
  EXPECT_EQ(post.status, 504);
  EXPECT_LT(post.sent, kBoundedBody);
  EXPECT_LT(testing::PeakRssBytes(), rss + kBoundedBody) << "the proxy held the body";
}

// No route timeout: TCP_USER_TIMEOUT ends the connection whose zero window held past it (the
// kernel counts unanswered window probes; Linux 5.11+), long before the request timeout.
TEST_F(UpstreamFailureTest, Http1BackendThatNeverReadsEndsAtTheUserTimeout) {
  NeverReadingBackend never;
  ServerOptions options;
  options.upstream.user_timeout = 1000ms;
  Start({never.port()}, false, 0, options, /*h2=*/false);
  StalledPost post = PostForever(port_);
  EXPECT_TRUE(post.status == 502 || post.status == 503 || post.status == 504) << post.status;
  EXPECT_LT(post.sent, kBoundedBody);
}

// Not a failure: what a served POST looks like on the wire. The proxy flushes a session's
// frames once per loop round, so the body's one DATA frame carries END_STREAM; before, each
// stream flushed by itself and an empty DATA frame ended the stream after the body.
TEST_F(UpstreamFailureTest, APostsBodyEndsOnItsOwnDataFrame) {
  H2Backend a("a");
  Start({a.port()});
  for (int i = 0; i < 3; ++i) {
    testing::Response post = Post("/p" + std::to_string(i));
    EXPECT_EQ(post.status, 200) << post.body;
  }
  EXPECT_EQ(a.data_frames(), 3);
  EXPECT_EQ(a.empty_end_stream_frames(), 0);
}

}  // namespace
}  // namespace xgate::proxy
