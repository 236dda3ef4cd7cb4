// Two agents' Lease electors and status writers against the test API server (HTTPS, the agent
// token and deploy/'s RBAC): only the holder writes status; when the holder stops renewing
// (as after SIGKILL) the other takes over after the lease duration; when it releases the
// Lease (SIGTERM) the other takes over within seconds.
#include <gtest/gtest.h>

#include <thread>

#include "agent/kube/leader_election.h"
#include "agent/kube/status_publisher.h"
#include "agent/kube/status_writer.h"
#include "agent/model/loader.h"
#include "agent/sources/kube/kubeconfig.h"
#include "tests/kube/server_process.h"
#include "tests/kube_status/gateway_objects.h"
#include "tests/kube_status/in_memory_api.h"

namespace xgate::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using testing::OtherControllersEntry;

using testing::kClasses;
using testing::kGateways;
using testing::kHTTPRoutes;
const Resource kLeases{"coordination.k8s.io", "v1", "leases", true};

std::unique_ptr<Client> NewClient(const kubetest::ServerProcess& server, const std::string& user) {
  auto config = LoadKubeconfig(server.Kubeconfig(user));
  EXPECT_TRUE(config.ok()) << config.status();
  auto client = Client::Create(*config);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// Polls `done` every 20 ms until it holds or `limit` passed.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
  for (auto end = Clock::now() + limit; !done();) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// One node's agent, as far as status goes: its own connection with the agent's token.
struct Agent {
  Agent(const kubetest::ServerProcess& server, const std::string& name, LeaseOptions lease)
      : client(NewClient(server, "agent")),
        client_api(*client),
        api(client_api),
        elector(api, WithIdentity(std::move(lease), name)),
        writer(api, {{model::Kind::kGatewayClass, kClasses},
                     {model::Kind::kGateway, kGateways},
                     {model::Kind::kHTTPRoute, kHTTPRoutes}}),
        publisher(writer, elector, 200ms) {}
  ~Agent() {
    publisher.Stop();
    elector.Stop(false);
    client->Shutdown();
  }
  static LeaseOptions WithIdentity(LeaseOptions lease, const std::string& name) {
    lease.identity = name;
    return lease;
  }
  std::unique_ptr<Client> client;
  ClientApi client_api;
  testing::CountingApi api;
  LeaderElector elector;
  StatusWriter writer;
  StatusPublisher publisher;
};

class LeaseApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Ready()) << "see " << server_.Dir() / "server.log";
    admin_ = NewClient(server_, "admin");
    // A class of xgate's of the test's own (deploy/'s "xgate" may change), and another
    // controller's.
    Create(kClasses.Path(), testing::GatewayClassJson("xgate-test", model::kControllerName));
    Create(kClasses.Path(), testing::GatewayClassJson("other", testing::kOtherController));
    Create(kGateways.Path("default"), testing::GatewayJson("gw", "xgate-test"));
    Create(kGateways.Path("default"), testing::GatewayJson("other-gw", "other"));
    json route =
        Create(kHTTPRoutes.Path("default"), testing::HTTPRouteJson("web", {"gw", "other-gw"}));
    route["status"] = {{"parents", {OtherControllersEntry()}}};
    auto written = admin_->UpdateStatus(kHTTPRoutes.Path("default", "web"), route);
    ASSERT_TRUE(written.ok() && written->ok()) << (written.ok() ? written->body : "");
  }

  json Create(const std::string& collection, const json& object) {
    auto created = admin_->Create(collection, object);
    EXPECT_TRUE(created.ok() && created->ok()) << (created.ok() ? created->body : "no answer");
    return created.ok() ? created->Json() : json();
  }

  json Get(const std::string& path) {
    auto got = admin_->Get(path);
    return got.ok() && got->ok() ? got->Json() : json();
  }

  // The objects as the server has them now, loaded and bound as the agent would.
  struct Bound {
    std::shared_ptr<const model::Store> store;
    binder::Statuses statuses;
  };
  Bound Bind() {
    auto loaded = std::make_shared<model::LoadResult>();
    for (const std::string& path :
         {kClasses.Path("", "xgate-test"), kClasses.Path("", "other"),
          kGateways.Path("default", "gw"), kGateways.Path("default", "other-gw"),
          kHTTPRoutes.Path("default", "web")}) {
      model::LoadText(Get(path).dump(), path, *loaded);
    }
    EXPECT_TRUE(loaded->errors.empty()) << loaded->errors.front().ToString();
    binder::BindOptions options;
    options.now = "2026-01-01T00:00:00Z";
    binder::Statuses statuses = binder::Bind(loaded->store, options).statuses;
    return {std::shared_ptr<const model::Store>(loaded, &loaded->store), std::move(statuses)};
  }

  json OurRouteEntry() {
    json route = Get(kHTTPRoutes.Path("default", "web"));
    for (const json& entry : route["status"]["parents"]) {
      if (entry["controllerName"] == model::kControllerName) return entry;
    }
    return json();
  }

  json LeaseSpec() { return Get(kLeases.Path("xgate-system", "xgate-status-writer"))["spec"]; }

  kubetest::ServerProcess server_{{"--preload", XGATE_DEPLOY_DIR}};
  std::unique_ptr<Client> admin_;
};

LeaseOptions Short() {
  LeaseOptions lease;
  lease.lease_duration = 6s;
  lease.renew_deadline = 4s;
  lease.retry_period = 500ms;
  return lease;
}

TEST_F(LeaseApiServerTest, OnlyTheHolderWritesAndTheOtherTakesOverWhenItStopsRenewing) {
  auto a = std::make_unique<Agent>(server_, "node-a", Short());
  auto b = std::make_unique<Agent>(server_, "node-b", Short());
  ASSERT_TRUE(a->elector.Start().ok());
  ASSERT_TRUE(b->elector.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return a->elector.IsLeader() || b->elector.IsLeader(); }));
  std::unique_ptr<Agent>& holder = a->elector.IsLeader() ? a : b;
  std::unique_ptr<Agent>& other = a->elector.IsLeader() ? b : a;
  const std::string holder_name = holder->elector.options().identity;
  const std::string other_name = other->elector.options().identity;
  EXPECT_FALSE(other->elector.IsLeader());
  EXPECT_EQ(LeaseSpec()["holderIdentity"], holder_name);

  Bound bound = Bind();
  other->publisher.Publish(bound.store, bound.statuses);
  holder->publisher.Publish(bound.store, bound.statuses);
  ASSERT_TRUE(WaitFor([&] { return holder->publisher.clean_writes() >= 1; }));
  json ours = OurRouteEntry();
  ASSERT_FALSE(ours.is_null());
  EXPECT_EQ(ours["parentRef"]["name"], "gw");
  json parents = Get(kHTTPRoutes.Path("default", "web"))["status"]["parents"];
  ASSERT_EQ(parents.size(), 2u);
  EXPECT_EQ(parents[0], OtherControllersEntry());
  json gw = Get(kGateways.Path("default", "gw"))["status"];
  EXPECT_EQ(gw["listeners"][0]["attachedRoutes"], 1);
  EXPECT_TRUE(Get(kGateways.Path("default", "other-gw"))["status"]["listeners"].empty());
  EXPECT_EQ(holder->api.status_writes(), 3);
  EXPECT_EQ(other->api.status_writes(), 0);
  EXPECT_EQ(holder->writer.counters().ok, 3u);

  // The holder stops renewing, as after SIGKILL: nothing released.
  holder->publisher.Stop();
  holder->elector.Stop(false);
  auto stopped = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return other->elector.IsLeader(); }));
  auto waited = Clock::now() - stopped;
  // Not before the record stood unchanged for a lease duration on the other's clock (it saw
  // the last renewal at most a jittered retry period before the stop).
  EXPECT_GE(waited, 6s - 600ms);
  EXPECT_LT(waited, 15s);
  json spec = LeaseSpec();
  EXPECT_EQ(spec["holderIdentity"], other_name);
  EXPECT_EQ(spec["leaseTransitions"], 1);
  // The old holder, were it alive, has stopped acting as holder by its renew deadline.
  EXPECT_FALSE(holder->elector.IsLeader());

  // The new holder writes what changes next; the old one wrote nothing more.
  json route = Get(kHTTPRoutes.Path("default", "web"));
  route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 5;
  ASSERT_TRUE(admin_->Update(kHTTPRoutes.Path("default", "web"), route)->ok());
  Bound next = Bind();
  other->publisher.Publish(next.store, next.statuses);
  ASSERT_TRUE(WaitFor([&] {
    json entry = OurRouteEntry();
    return !entry.is_null() && entry["conditions"][0]["observedGeneration"] == 2;
  }));
  EXPECT_EQ(Get(kHTTPRoutes.Path("default", "web"))["status"]["parents"][0],
            OtherControllersEntry());
  EXPECT_GE(other->api.status_writes(), 1);
  EXPECT_EQ(holder->api.status_writes(), 3);
}

TEST_F(LeaseApiServerTest, AReleasedLeaseIsTakenOverWithinSeconds) {
  LeaseOptions lease;  // the defaults: 15 s lease, 10 s renew deadline
  lease.retry_period = 500ms;
  auto a = std::make_unique<Agent>(server_, "node-a", lease);
  ASSERT_TRUE(a->elector.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return a->elector.IsLeader(); }));
  auto b = std::make_unique<Agent>(server_, "node-b", lease);
  ASSERT_TRUE(b->elector.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return b->elector.ObservedHolder() == "node-a"; }));

  // SIGTERM: the agent stops writing status, then gives the Lease up.
  a->publisher.Stop();
  a->elector.Stop(true);
  EXPECT_FALSE(a->elector.IsLeader());
  auto released = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return b->elector.IsLeader(); }, 14s));
  EXPECT_LT(Clock::now() - released, 5s);  // a retry period or two, not a lease duration
  EXPECT_EQ(LeaseSpec()["holderIdentity"], "node-b");
  EXPECT_EQ(LeaseSpec()["leaseTransitions"], 1);
  EXPECT_EQ(a->elector.transitions(), 2u);
}

}  // namespace
}  // namespace xgate::kube
