#include "agent/kube/status_publisher.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent/admin/metrics.h"
#include "agent/model/loader.h"
#include "tests/agent/prometheus_text.h"
#include "tests/kube_status/gateway_objects.h"
#include "tests/kube_status/in_memory_api.h"

namespace xgate::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::CountingApi;
using testing::InMemoryApi;

using testing::kClasses;

// Polls `done` until it holds or 10 s passed (the publisher writes on its own thread).
bool Eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// One agent: its view of the server, Lease elector (driven by the test, no loop), status
// writer and publisher.
struct Agent {
  Agent(InMemoryApi& server, const std::string& name)
      : api(server),
        elector(api, Options(name), [this] { return now; }),
        writer(api, {{model::Kind::kGatewayClass, kClasses}}),
        publisher(writer, elector, 10ms) {}
  static LeaseOptions Options(const std::string& name) {
    LeaseOptions options;
    options.identity = name;
    return options;
  }
  std::chrono::steady_clock::time_point now{};
  CountingApi api;
  LeaderElector elector;
  StatusWriter writer;
  StatusPublisher publisher;
};

struct Bound {
  std::shared_ptr<const model::Store> store;
  binder::Statuses statuses;
};

Bound BindClass(InMemoryApi& server, const std::string& now) {
  auto loaded = std::make_shared<model::LoadResult>();
  model::LoadText(server.Object(kClasses.Path("", "xgate")).dump(), "xgate", *loaded);
  binder::BindOptions options;
  options.now = now;
  binder::Statuses statuses = binder::Bind(loaded->store, options).statuses;
  return {std::shared_ptr<const model::Store>(loaded, &loaded->store), std::move(statuses)};
}

TEST(StatusPublisherTest, OnlyTheHolderWritesAndTheNextOneTakesOver) {
  InMemoryApi server;
  server.Put(kClasses.Path("", "xgate"),
             testing::GatewayClassJson("xgate", model::kControllerName));
  Agent a(server, "node-a");
  Agent b(server, "node-b");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  ASSERT_FALSE(b.elector.TryAcquireOrRenew());

  Bound bound = BindClass(server, "2026-01-01T00:00:00Z");
  b.publisher.Publish(bound.store, bound.statuses);
  a.publisher.Publish(bound.store, bound.statuses);
  ASSERT_TRUE(Eventually([&] { return a.publisher.clean_writes() == 1; }));
  EXPECT_EQ(a.api.status_writes(), 1);
  json status = server.Object(kClasses.Path("", "xgate"))["status"];
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z");

  // a leaves (SIGTERM): b takes over, writes the newest state it has, finds it written.
  a.publisher.Stop();
  ASSERT_TRUE(a.elector.Release().ok());
  ASSERT_TRUE(b.elector.TryAcquireOrRenew());
  ASSERT_TRUE(Eventually([&] { return b.publisher.clean_writes() == 1; }));
  EXPECT_EQ(b.api.status_writes(), 0);
  EXPECT_EQ(b.writer.counters().skipped_unchanged, 1u);

  // A change bound on b is written by b.
  json cls = server.Object(kClasses.Path("", "xgate"));
  cls["spec"]["description"] = "moved on";
  ASSERT_TRUE(server.Update(kClasses.Path("", "xgate"), cls)->ok());
  Bound next = BindClass(server, "2026-01-02T00:00:00Z");
  b.publisher.Publish(next.store, next.statuses);
  ASSERT_TRUE(Eventually([&] { return b.publisher.clean_writes() == 2; }));
  EXPECT_EQ(b.api.status_writes(), 1);
  status = server.Object(kClasses.Path("", "xgate"))["status"];
  EXPECT_EQ(status["conditions"][0]["observedGeneration"], 2);
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(a.api.status_writes(), 1);
}

TEST(LeaderStatusMetricsTest, RendersEverySeries) {
  admin::LeaderStatusMetrics metrics;
  metrics.lease_holder = true;
  metrics.leader_transitions = 3;
  metrics.status_writes_ok = 4;
  metrics.status_writes_conflict = 1;
  metrics.status_writes_skipped_unchanged = 7;
  metrics.status_reads_list = 1200;
  metrics.status_reads_get = 2;
  metrics.status_list_pages = 3;
  metrics.status_list_errors = 1;
  xgate::testing::PromText text = xgate::testing::ParsePromText(RenderLeaderStatusMetrics(metrics));
  ASSERT_EQ(text.error, "");
  EXPECT_EQ(text.types["xgate_agent_lease_holder"], "gauge");
  EXPECT_EQ(text.Sum("xgate_agent_lease_holder"), 1);
  EXPECT_EQ(text.Sum("xgate_agent_leader_transitions_total"), 3);
  EXPECT_EQ(text.Sum("xgate_agent_status_writes_total", {{"result", "ok"}}), 4);
  EXPECT_EQ(text.Sum("xgate_agent_status_writes_total", {{"result", "conflict"}}), 1);
  EXPECT_EQ(text.Sum("xgate_agent_status_writes_total", {{"result", "error"}}), 0);
  EXPECT_EQ(text.Sum("xgate_agent_status_writes_total", {{"result", "skipped_unchanged"}}), 7);
  EXPECT_EQ(text.Sum("xgate_agent_status_reads_total", {{"how", "list"}}), 1200);
  EXPECT_EQ(text.Sum("xgate_agent_status_reads_total", {{"how", "get"}}), 2);
  EXPECT_EQ(text.Sum("xgate_agent_status_list_pages_total"), 3);
  EXPECT_EQ(text.Sum("xgate_agent_status_list_errors_total"), 1);
}

}  // namespace
}  // namespace xgate::kube
