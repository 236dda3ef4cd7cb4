// HTTPRoute retry policies through the real proxy on loopback: listed status codes, resets
// and connect failures tried again with the backoff, bounded by attempts and the request
// timeout; the retry counter.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy {
namespace {

using testing::Client;
using testing::Get;
using testing::TestUpstream;

class ProxyRetryTest : public ProxyServerTest {
 protected:
  // Simple(upstream) with a retry policy on its route.
  api::L7Config WithRetry(TestUpstream& upstream, uint32_t attempts, std::vector<uint32_t> codes,
                          uint64_t backoff_ms = 1) {
    api::L7Config config = Simple(upstream);
    api::Retry* retry = config.mutable_ports(0)
                            ->mutable_listeners(0)
                            ->mutable_virtual_hosts(0)
                            ->mutable_routes(0)
                            ->mutable_retry();
    retry->set_attempts(attempts);
    for (uint32_t code : codes) retry->add_codes(code);
    retry->set_backoff_ms(backoff_ms);
    return config;
  }
  api::Route& FirstRoute(api::L7Config& config) {
    return *config.mutable_ports(0)->mutable_listeners(0)->mutable_virtual_hosts(0)->mutable_routes(
        0);
  }
  // The route's retries by reason, as the stats report them.
  uint64_t Retries(const std::string& reason) {
    uint64_t n = 0;
    api::ProxyStats stats = server_->Stats();
    for (const auto& r : stats.route_retries()) {
      if (r.reason() == reason) n += r.count();
    }
    return n;
  }
};

TEST_F(ProxyRetryTest, ListedStatusIsRetriedUntilSuccess) {
  TestUpstream up("up");
  Apply(WithRetry(up, 2, {500, 503}));
  up.set_fail_first(2, 503);
  testing::Response r = Get(port_, "h", "/a");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-upstream"], "up");
  EXPECT_EQ(up.request_count(), 3u);
  EXPECT_EQ(Retries("status"), 2u);
}

TEST_F(ProxyRetryTest, AttemptsBoundTheRetriesAndTheLastAnswerIsPassedOn) {
  TestUpstream up("up");
  Apply(WithRetry(up, 2, {500}));
  up.set_fail_first(10, 500);
  EXPECT_EQ(Get(port_, "h", "/a").status, 500);
  EXPECT_EQ(up.request_count(), 3u);  // the first try and two retries
  EXPECT_EQ(Retries("status"), 2u);
}

TEST_F(ProxyRetryTest, UnlistedStatusAndNoPolicyAreNotRetried) {
  TestUpstream up("up");
  Apply(WithRetry(up, 3, {500}));
  up.set_fail_first(1, 502);
  EXPECT_EQ(Get(port_, "h", "/a").status, 502);
  EXPECT_EQ(up.request_count(), 1u);

  Apply(Simple(up));
  up.set_fail_first(1, 500);
  EXPECT_EQ(Get(port_, "h", "/b").status, 500);
  EXPECT_EQ(up.request_count(), 2u);
  EXPECT_EQ(Retries("status"), 0u);
}

TEST_F(ProxyRetryTest, RequestBodyIsSentAgain) {
  TestUpstream up("up");
  Apply(WithRetry(up, 1, {503}));
  up.set_fail_first(1, 503);
  Client client("127.0.0.1", port_);
  client.Send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody");
  EXPECT_EQ(client.Read("POST").status, 200);
  std::vector<testing::ReceivedRequest> requests = up.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, "body");
  EXPECT_EQ(requests[1].body, "body");
}

// A reset before any response byte: a GET is sent again to the same (only) endpoint after
// the backoff; a POST whose bytes went out is not.
TEST_F(ProxyRetryTest, ResetIsRetriedForIdempotentRequestsOnly) {
  TestUpstream up("up");
  Apply(WithRetry(up, 2, {}));
  up.set_fail_first(1, 0);
  EXPECT_EQ(Get(port_, "h", "/g").status, 200);
  EXPECT_EQ(up.request_count(), 2u);
  EXPECT_EQ(Retries("reset"), 1u);

  up.set_fail_first(1, 0);
  Client client("127.0.0.1", port_);
  client.Send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody");
  EXPECT_EQ(client.Read("POST").status, 502);
  EXPECT_EQ(up.request_count(), 3u);
  EXPECT_EQ(Retries("reset"), 1u);
}

TEST_F(ProxyRetryTest, ConnectFailureIsRetriedAfterTheBackoff) {
  TestUpstream up("up");
  api::L7Config config = WithRetry(up, 2, {});
  config.mutable_clusters(0)->mutable_endpoints(0)->set_port(testing::FreePort());  // dead
  Apply(config);
  EXPECT_EQ(Get(port_, "h", "/a").status, 503);
  EXPECT_EQ(Retries("connect"), 2u);
  EXPECT_EQ(up.request_count(), 0u);
}

// The retry waits at least the backoff (a timer never fires early).
TEST_F(ProxyRetryTest, BackoffIsWaited) {
  TestUpstream up("up");
  Apply(WithRetry(up, 1, {503}, 300));
  up.set_fail_first(1, 503);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get(port_, "h", "/a").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

// The request timeout bounds the whole exchange, backoffs included: 504 while a retry waits.
TEST_F(ProxyRetryTest, RequestTimeoutBoundsTheRetries) {
  TestUpstream up("up");
  api::L7Config config = WithRetry(up, 5, {503}, 10000);
  FirstRoute(config).set_request_timeout_ms(200);
  Apply(config);
  up.set_fail_first(10, 503);
  EXPECT_EQ(Get(port_, "h", "/a").status, 504);
  EXPECT_EQ(up.request_count(), 1u);
}

// A backend request timeout cancels the attempt, which is tried again (a GET).
TEST_F(ProxyRetryTest, BackendTimeoutIsRetried) {
  TestUpstream up("up");
  api::L7Config config = WithRetry(up, 1, {});
  FirstRoute(config).set_backend_request_timeout_ms(200);
  Apply(config);
  EXPECT_EQ(Get(port_, "h", "/hang").status, 504);
  EXPECT_EQ(up.request_count(), 2u);
  EXPECT_EQ(Retries("timeout"), 1u);
}

// Two endpoints, one always failing: a retry goes to the other one.
TEST_F(ProxyRetryTest, RetryGoesToAnotherEndpoint) {
  TestUpstream good("good"), bad("bad");
  bad.set_fail_status(503);
  api::L7Config config = WithRetry(good, 1, {503});
  api::Endpoint* endpoint = config.mutable_clusters(0)->add_endpoints();
  endpoint->set_address("127.0.0.1");
  endpoint->set_port(bad.port());
  Apply(config);
  for (int i = 0; i < 6; ++i) {
    testing::Response r = Get(port_, "h", "/a");
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.headers["x-upstream"], "good") << i;
  }
  EXPECT_GE(bad.request_count(), 1u);
}

// The retry budget (Envoy's retry_budget, per worker): every backend of the rule answers 503,
// which the rule retries (after a minute, so that the retried requests are still waiting at
// the end), and 20 requests are in flight on one worker when their answers come (both
// backends hold them until all 20 arrived). Only max(min, percent of 20) of them are retried;
// the others get their 503 at once, each refusal counted.
class RetryBudgetTest : public ProxyRetryTest {
 protected:
  struct Outcome {
    uint64_t retried = 0;
    uint64_t refused = 0;
  };
  Outcome Run(uint32_t percent, uint32_t min_concurrency) {
    constexpr size_t kRequests = 20;
    TestUpstream a("a"), b("b");
    for (TestUpstream* up : {&a, &b}) {
      up->set_fail_status(503);
      up->set_hold([&] { return a.request_count() + b.request_count() >= kRequests; });
    }
    ServerOptions options;
    options.workers = 1;
    options.limits.retry_budget = {.percent = percent, .min_concurrency = min_concurrency};
    server_ = std::make_unique<Server>(options);
    server_->Start();
    api::L7Config config = WithRetry(a, 1, {503}, 60000);
    api::WeightedCluster* second = FirstRoute(config).add_backends();
    second->set_cluster("ns/b:80");
    second->set_weight(1);
    testing::AddCluster(config, "ns/b:80", b);
    Apply(config);

    std::vector<std::unique_ptr<Client>> clients;
    for (size_t i = 0; i < kRequests; ++i) {
      clients.push_back(std::make_unique<Client>("127.0.0.1", port_));
      clients.back()->Send("GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n");
    }
    Outcome outcome;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      api::ProxyStats stats = server_->Stats();
      outcome.refused = stats.retry_budget_exhausted();
      outcome.retried = Retries("status");
      if (outcome.retried + outcome.refused >= kRequests) break;
      std::this_thread::sleep_for(10ms);
    }
    size_t answered = 0;
    for (auto& client : clients) answered += client->Read("GET", 100ms).status == 503;
    EXPECT_EQ(answered, outcome.refused) << "the refused get their 503, the retried wait";
    EXPECT_EQ(a.request_count() + b.request_count(), kRequests) << "no retry sent yet";
    clients.clear();
    server_.reset();
    return outcome;
  }
};

TEST_F(RetryBudgetTest, RetriesStopAtThePercentOfRequestsInFlight) {
  Outcome o = Run(25, 2);  // 25 % of 20
  EXPECT_EQ(o.retried, 5u);
  EXPECT_EQ(o.refused, 15u);
}

TEST_F(RetryBudgetTest, MinConcurrencyIsAlwaysAllowed) {
  Outcome o = Run(0, 3);
  EXPECT_EQ(o.retried, 3u);
  EXPECT_EQ(o.refused, 17u);
}

TEST_F(RetryBudgetTest, AFullBudgetRetriesEveryRequest) {
  Outcome o = Run(100, 0);
  EXPECT_EQ(o.retried, 20u);
  EXPECT_EQ(o.refused, 0u);
}

}  // namespace
}  // namespace xgate::proxy
