// The steering applier's state in the kernel: policy route, xg_steer_targets entries as
// snapshots change, the tcx link ahead of others, adoption by a restarted agent, detach.
// Traffic through it is tested in tests/e2e_steer.
#include "agent/node/steering.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "agent/node/netlink.h"
#include "maps/pins.h"
#include "tests/node/tcx_programs.h"

namespace xgate::node {
namespace {

std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p)) out += buf;
  pclose(p);
  return out;
}

int Occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Each test in a network namespace of its own, with a veth pair to attach to.
class SteeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
      const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
      if (req && std::string(req) == "1") FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << "needs root to make a network namespace";
    }
    pin_root_ = "/sys/fs/bpf/xgate-node-test-" + std::to_string(getpid());
    ASSERT_EQ(std::system("ip link add xgn0 type veth peer name xgn1 && "
                          "ip addr add 198.18.50.1/24 dev xgn0 && ip link set xgn0 up"),
              0);
  }
  void TearDown() override {
    std::error_code ec;
    if (!pin_root_.empty()) std::filesystem::remove_all(pin_root_, ec);
  }

  SteeringOptions Options() { return {pin_root_, {"xgn0"}}; }

  std::set<std::string> Targets() {
    std::set<std::string> out;
    auto map = SteerTargetMap::OpenPinned(maps::PinPath(pin_root_, kSteerTargets));
    if (!map.ok()) return out;
    auto entries = map->Entries();
    if (!entries.ok()) return out;
    for (const auto& [key, value] : *entries)
      out.insert(maps::FormatAddress(key.addr) + " " + std::to_string(key.port));
    return out;
  }

  std::string pin_root_;
};

// Punt listeners as the compiler marks them: steered unless said otherwise.
compiler::Snapshot Punting(std::initializer_list<compiler::PuntListener> listeners) {
  compiler::Snapshot s;
  s.punt = listeners;
  return s;
}

TEST_F(SteeringTest, LocalDeliveryRouteIsIdempotentAndRemovable) {
  for (const LocalDelivery& route : SteerRoutes()) {
    ASSERT_TRUE(AddLocalDelivery(route).ok());
    ASSERT_TRUE(AddLocalDelivery(route).ok());
  }
  EXPECT_EQ(Occurrences(Output("ip -4 rule show"), "20:\tfrom all fwmark 0x780000 lookup 30823"),
            1);
  EXPECT_EQ(Occurrences(Output("ip -6 rule show"), "20:\tfrom all fwmark 0x780000 lookup 30823"),
            1);
  EXPECT_NE(Output("ip -4 route show table 30823").find("local default dev lo"), std::string::npos);
  EXPECT_NE(Output("ip -6 route show table 30823").find("local default dev lo"), std::string::npos);
  for (const LocalDelivery& route : SteerRoutes()) {
    ASSERT_TRUE(DeleteLocalDelivery(route).ok());
    ASSERT_TRUE(DeleteLocalDelivery(route).ok());
  }
  EXPECT_EQ(Occurrences(Output("ip rule show; ip -6 rule show"), "30823"), 0);
  EXPECT_EQ(Output("ip route show table 30823; ip -6 route show table 30823"), "");
}

TEST_F(SteeringTest, SteersOnlyThePuntListenersMarkedSteered) {
  auto applier = SteeringApplier::Create(Options());
  ASSERT_TRUE(applier.ok()) << applier.status();
  // The compiler marks as steered the addresses the node does not have.
  ASSERT_TRUE((*applier)
                  ->Apply(Punting({{"198.18.50.1", 443, false},
                                   {"198.18.100.1", 443, true},
                                   {"fd00:100::0001", 80, true},
                                   {"127.0.0.1", 80, false}}))
                  .ok());
  EXPECT_EQ(Targets(), (std::set<std::string>{"198.18.100.1 443", "fd00:100::1 80"}));

  ASSERT_TRUE((*applier)->Apply(Punting({{"198.18.100.2", 443, true}})).ok());
  EXPECT_EQ(Targets(), (std::set<std::string>{"198.18.100.2 443"}));

  EXPECT_FALSE((*applier)->Apply(Punting({{"not-an-address", 443, true}})).ok());
  EXPECT_EQ(Targets(), (std::set<std::string>{"198.18.100.2 443"}));
  (*applier)->Stop(/*detach=*/true);
}

TEST_F(SteeringTest, AttachedAtTcxIngressAndDetachRemovesEverything) {
  auto applier = SteeringApplier::Create(Options());
  ASSERT_TRUE(applier.ok()) << applier.status();
  EXPECT_EQ(testing::TcxIngressPrograms("xgn0"), std::vector<std::string>{"xgate_tc_steer"});
  EXPECT_TRUE(std::filesystem::exists(maps::PinPath(pin_root_, "link_steer_in_xgn0")));

  (*applier)->Stop(/*detach=*/true);
  EXPECT_TRUE(testing::TcxIngressPrograms("xgn0").empty());
  for (const char* pin :
       {"link_steer_in_xgn0", "xg_steer_targets", "xg_steer_stats", "xg_steer_socks"})
    EXPECT_FALSE(std::filesystem::exists(maps::PinPath(pin_root_, pin))) << pin;
  EXPECT_EQ(Occurrences(Output("ip rule show; ip -6 rule show"), "30823"), 0);
}

TEST_F(SteeringTest, RestartedAgentAdoptsTheProgramAndItsEntries) {
  {
    auto first = SteeringApplier::Create(Options());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*first)->Apply(Punting({{"198.18.100.1", 443, true}})).ok());
    (*first)->Stop(/*detach=*/false);
  }
  // The agent is gone: the program still runs from its pinned link, the entries stay.
  EXPECT_EQ(testing::TcxIngressPrograms("xgn0"), std::vector<std::string>{"xgate_tc_steer"});
  EXPECT_EQ(Targets(), (std::set<std::string>{"198.18.100.1 443"}));
  EXPECT_EQ(Occurrences(Output("ip rule show"), "lookup 30823"), 1);

  auto second = SteeringApplier::Create(Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(testing::TcxIngressPrograms("xgn0"), std::vector<std::string>{"xgate_tc_steer"});
  ASSERT_TRUE((*second)->Apply(Punting({{"198.18.100.7", 443, true}})).ok());
  EXPECT_EQ(Targets(), (std::set<std::string>{"198.18.100.7 443"}));
  (*second)->Stop(/*detach=*/true);
}

}  // namespace
}  // namespace xgate::node
