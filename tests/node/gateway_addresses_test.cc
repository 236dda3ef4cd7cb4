#include "agent/node/gateway_addresses.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>

namespace xgate::node {
namespace {

// Runs each test in a network namespace of its own, so nothing the test does is seen outside.
class GatewayAddressesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
      const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
      if (req && std::string(req) == "1") FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << "needs root to make a network namespace";
    }
  }
};

std::set<std::string> AddressesOn(const std::string& ifname) {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || ifname != it->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                sizeof(text));
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(it->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
      inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    out.insert(text);
  }
  freeifaddrs(list);
  return out;
}

compiler::Snapshot WithPunts(std::initializer_list<const char*> addresses) {
  compiler::Snapshot s;
  for (const char* a : addresses) s.punt.push_back({a, 80});
  return s;
}

TEST_F(GatewayAddressesTest, AddsAndRemovesAddressesAsSnapshotsChange) {
  GatewayAddressApplier applier;
  auto status = applier.Apply(WithPunts({"198.18.100.1", "fd00:100::1", "198.18.100.1"}));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(AddressesOn("lo"),
            (std::set<std::string>{"127.0.0.1", "::1", "198.18.100.1", "fd00:100::1"}));

  ASSERT_TRUE(applier.Apply(WithPunts({"198.18.100.2"})).ok());
  EXPECT_EQ(AddressesOn("lo"), (std::set<std::string>{"127.0.0.1", "::1", "198.18.100.2"}));

  applier.Stop(/*detach=*/true);
  EXPECT_EQ(AddressesOn("lo"), (std::set<std::string>{"127.0.0.1", "::1"}));
}

TEST_F(GatewayAddressesTest, LeavesAddressesOfOtherInterfacesAlone) {
  // An address the node already has on another interface is not added to lo, nor removed.
  GatewayAddressApplier applier;
  ASSERT_TRUE(applier.Apply(WithPunts({"198.18.100.5"})).ok());
  GatewayAddressApplier other("xgtest");
  ASSERT_TRUE(other.Apply(WithPunts({"198.18.100.5"})).ok());
  other.Stop(/*detach=*/true);
  EXPECT_TRUE(AddressesOn("lo").contains("198.18.100.5"));
}

TEST_F(GatewayAddressesTest, StopWithoutDetachKeepsServing) {
  GatewayAddressApplier applier;
  ASSERT_TRUE(applier.Apply(WithPunts({"198.18.100.3"})).ok());
  applier.Stop(/*detach=*/false);
  EXPECT_TRUE(AddressesOn("lo").contains("198.18.100.3"));
}

TEST_F(GatewayAddressesTest, RefusesGarbageAddress) {
  GatewayAddressApplier applier;
  EXPECT_FALSE(applier.Apply(WithPunts({"not-an-ip"})).ok());
}

}  // namespace
}  // namespace xgate::node
