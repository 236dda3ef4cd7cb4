#include "agent/kube/leader_election.h"

#include <gtest/gtest.h>

#include "tests/kube_status/in_memory_api.h"

namespace xgate::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::InMemoryApi;

constexpr char kLeasePath[] =
    "/apis/coordination.k8s.io/v1/namespaces/xgate-system/leases/xgate-status-writer";

// One node: its own clock (never compared with another node's) and elector.
struct Node {
  Node(Api& api, const std::string& name, std::chrono::hours clock_offset = 0h)
      : now(std::chrono::steady_clock::time_point{} + clock_offset),
        elector(api, Options(name), [this] { return now; }) {
    elector.AddObserver([this](bool leader) { changes.push_back(leader); });
  }
  static LeaseOptions Options(const std::string& name) {
    LeaseOptions options;
    options.identity = name;
    return options;  // 15 s lease, 10 s renew deadline, 2 s retry period
  }
  std::chrono::steady_clock::time_point now;
  LeaderElector elector;
  std::vector<bool> changes;
};

json Spec(const InMemoryApi& api) { return api.Object(kLeasePath)["spec"]; }

TEST(LeaderElectionTest, FirstAgentCreatesTheLeaseAndHoldsIt) {
  InMemoryApi api;
  Node a(api, "node-a");
  EXPECT_FALSE(a.elector.IsLeader());
  EXPECT_TRUE(a.elector.TryAcquireOrRenew());
  EXPECT_TRUE(a.elector.IsLeader());
  json spec = Spec(api);
  EXPECT_EQ(spec["holderIdentity"], "node-a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_TRUE(spec["renewTime"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(a.changes, std::vector<bool>{true});
  EXPECT_EQ(a.elector.transitions(), 1u);
}

TEST(LeaderElectionTest, OthersWaitWhileTheHolderRenews) {
  InMemoryApi api;
  Node a(api, "node-a");
  Node b(api, "node-b", 5h);
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  for (int round = 0; round < 5; ++round) {
    EXPECT_FALSE(b.elector.TryAcquireOrRenew()) << round;
    a.now += 10s;
    b.now += 10s;  // longer than a lease duration in all, shorter between two renewals
    ASSERT_TRUE(a.elector.TryAcquireOrRenew()) << round;
  }
  EXPECT_FALSE(b.elector.IsLeader());
  EXPECT_EQ(b.elector.ObservedHolder(), "node-a");
  EXPECT_TRUE(b.changes.empty());
  EXPECT_EQ(Spec(api)["leaseTransitions"], 0);
}

TEST(LeaderElectionTest, TakesOverWhenTheHolderStopsRenewing) {
  InMemoryApi api;
  Node a(api, "node-a");
  Node b(api, "node-b", 3h);
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  ASSERT_FALSE(b.elector.TryAcquireOrRenew());  // b observes a's record now
  std::string acquired = Spec(api)["acquireTime"];

  // a stops renewing (killed). b's own clock decides: the record has not changed for 14 s...
  b.now += 14s;
  EXPECT_FALSE(b.elector.TryAcquireOrRenew());
  // ...then for 15 s, a lease duration.
  b.now += 1s;
  EXPECT_TRUE(b.elector.TryAcquireOrRenew());
  EXPECT_TRUE(b.elector.IsLeader());
  json spec = Spec(api);
  EXPECT_EQ(spec["holderIdentity"], "node-b");
  EXPECT_EQ(spec["leaseTransitions"], 1);

  // a, were it only stalled, stops acting as holder at its renew deadline (before b could
  // take over), and finds b holding the Lease when it can ask again.
  a.now += 9s;
  a.elector.CheckRenewDeadline();
  EXPECT_TRUE(a.elector.IsLeader());
  a.now += 1s;
  EXPECT_FALSE(a.elector.IsLeader());
  a.elector.CheckRenewDeadline();
  EXPECT_EQ(a.changes, (std::vector<bool>{true, false}));
  EXPECT_FALSE(a.elector.TryAcquireOrRenew());
  EXPECT_EQ(Spec(api)["holderIdentity"], "node-b");
}

TEST(LeaderElectionTest, HolderRenewingKeepsAcquireTimeAndTransitions) {
  InMemoryApi api;
  Node a(api, "node-a");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  json first = Spec(api);
  a.now += 2s;
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  json second = Spec(api);
  EXPECT_EQ(second["acquireTime"], first["acquireTime"]);
  EXPECT_EQ(second["leaseTransitions"], 0);
  EXPECT_EQ(a.elector.transitions(), 1u);  // held throughout
}

TEST(LeaderElectionTest, ReleaseLetsTheNextAgentTakeOverAtOnce) {
  InMemoryApi api;
  Node a(api, "node-a");
  Node b(api, "node-b");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  ASSERT_FALSE(b.elector.TryAcquireOrRenew());
  ASSERT_TRUE(a.elector.Release().ok());
  EXPECT_FALSE(a.elector.IsLeader());
  json released = Spec(api);
  EXPECT_FALSE(released.contains("holderIdentity"));
  EXPECT_EQ(released["leaseTransitions"], 0);

  EXPECT_TRUE(b.elector.TryAcquireOrRenew());  // no time passed on b's clock
  EXPECT_EQ(Spec(api)["holderIdentity"], "node-b");
  EXPECT_EQ(Spec(api)["leaseTransitions"], 1);
  // Releasing a Lease one does not hold changes nothing.
  ASSERT_TRUE(a.elector.Release().ok());
  EXPECT_EQ(Spec(api)["holderIdentity"], "node-b");
}

TEST(LeaderElectionTest, AConflictingWriteReadsAgainAndKeepsTheWinner) {
  InMemoryApi api;
  Node a(api, "node-a");
  Node b(api, "node-b");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  ASSERT_TRUE(a.elector.Release().ok());
  // b saw the Lease free, but a takes it back between b's read and b's write.
  bool raced = false;
  api.SetBeforeWrite([&](const std::string& method, const std::string&) {
    if (raced || method != "PUT") return;
    raced = true;
    a.now += 1s;
    ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  });
  EXPECT_FALSE(b.elector.TryAcquireOrRenew());  // 409, read again: a holds it
  EXPECT_TRUE(raced);
  EXPECT_EQ(Spec(api)["holderIdentity"], "node-a");
  EXPECT_TRUE(a.elector.IsLeader());
  EXPECT_FALSE(b.elector.IsLeader());
}

TEST(LeaderElectionTest, TwoAgentsCreatingAtOnceLeaveOneHolder) {
  InMemoryApi api;
  Node a(api, "node-a");
  Node b(api, "node-b");
  bool raced = false;
  api.SetBeforeWrite([&](const std::string& method, const std::string&) {
    if (raced || method != "POST") return;
    raced = true;
    ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  });
  EXPECT_FALSE(b.elector.TryAcquireOrRenew());  // POST answered 409: a created it first
  EXPECT_TRUE(a.elector.IsLeader());
  EXPECT_EQ(Spec(api)["holderIdentity"], "node-a");
}

TEST(LeaderElectionTest, UnreachableServerEndsTheHoldAtTheRenewDeadline) {
  InMemoryApi api;
  Node a(api, "node-a");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  api.SetReachable(false);
  a.now += 6s;
  EXPECT_FALSE(a.elector.TryAcquireOrRenew());
  a.elector.CheckRenewDeadline();
  EXPECT_TRUE(a.elector.IsLeader());  // renewed 6 s ago
  a.now += 4s;
  EXPECT_FALSE(a.elector.TryAcquireOrRenew());
  a.elector.CheckRenewDeadline();
  EXPECT_FALSE(a.elector.IsLeader());
  EXPECT_EQ(a.changes, (std::vector<bool>{true, false}));
  // Back, the Lease still names a: it renews and holds it again.
  api.SetReachable(true);
  EXPECT_TRUE(a.elector.TryAcquireOrRenew());
  EXPECT_EQ(a.elector.transitions(), 3u);
}

TEST(LeaderElectionTest, ARestartedAgentRenewsItsOwnLease) {
  InMemoryApi api;
  {
    Node before(api, "node-a");
    ASSERT_TRUE(before.elector.TryAcquireOrRenew());
  }
  Node after(api, "node-a", 1h);
  EXPECT_TRUE(after.elector.TryAcquireOrRenew());
  EXPECT_EQ(Spec(api)["leaseTransitions"], 0);
}

TEST(LeaderElectionTest, OptionsThatCannotWorkAreRefused) {
  LeaseOptions options;
  EXPECT_FALSE(LeaderElector::Validate(options).ok());  // no identity
  options.identity = "node-a";
  EXPECT_TRUE(LeaderElector::Validate(options).ok());
  options.renew_deadline = 15s;
  EXPECT_FALSE(LeaderElector::Validate(options).ok());
  options.renew_deadline = 10s;
  options.retry_period = 10s;
  EXPECT_FALSE(LeaderElector::Validate(options).ok());
  InMemoryApi api;
  LeaderElector elector(api, LeaseOptions{});
  EXPECT_FALSE(elector.Start().ok());
  EXPECT_EQ(api.Calls("GET"), 0);
}

}  // namespace
}  // namespace xgate::kube
