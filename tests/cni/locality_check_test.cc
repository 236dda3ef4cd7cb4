// Where the EndpointSlices and xgate-cni's records disagree about the pods on this node.
#include "agent/pods/locality_check.h"

#include <gtest/gtest.h>

namespace xgate::pods {
namespace {

using Kind = LocalityMismatch::Kind;

cni::PodRecord Record(const std::string& container, const std::string& address) {
  cni::PodRecord r;
  r.set_network("podnet");
  r.set_container_id(container);
  r.set_ifname("eth0");
  r.add_addresses(address);
  return r;
}

model::Endpoint Endpoint(const std::string& address, std::optional<std::string> node,
                         bool ready = true) {
  model::Endpoint ep;
  ep.addresses = {address};
  ep.node_name = std::move(node);
  ep.ready = ready;
  return ep;
}

void AddSlice(model::Store& store, const std::string& name,
              std::vector<model::Endpoint> endpoints) {
  model::EndpointSlice slice;
  slice.endpoints = std::move(endpoints);
  store.endpoint_slices[{"default", name}] = std::move(slice);
}

TEST(LocalityCheck, SlicesAndRecordsThatAgreeGiveNothing) {
  model::Store store;
  AddSlice(store, "pg-1",
           {Endpoint("198.19.72.2", "node-a"), Endpoint("198.19.9.2", "node-b"),
            Endpoint("198.19.9.3", std::nullopt)});
  EXPECT_TRUE(FindLocalityMismatches(store, "node-a", {Record("c1", "198.19.72.2")}, {}).empty());
}

TEST(LocalityCheck, FindsEndpointsHereWithoutRecordsAndRecordsPutElsewhere) {
  model::Store store;
  AddSlice(store, "pg-1",
           {Endpoint("198.19.72.2", "node-a"), Endpoint("198.19.72.3", "node-a"),
            Endpoint("198.19.72.4", "node-b")});
  AddSlice(store, "v6-1", {Endpoint("fd00:72:0::5", "node-a")});
  auto found = FindLocalityMismatches(
      store, "node-a",
      {Record("c1", "198.19.72.2"), Record("c2", "198.19.72.4"), Record("c3", "198.19.72.9")}, {});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0], (LocalityMismatch{Kind::kNoRecord, "198.19.72.3", "default/pg-1", "node-a"}));
  EXPECT_EQ(found[1], (LocalityMismatch{Kind::kNoRecord, "fd00:72::5", "default/v6-1", "node-a"}));
  EXPECT_EQ(found[2],
            (LocalityMismatch{Kind::kOtherNode, "198.19.72.4", "default/pg-1", "node-b"}));
  // 198.19.72.9 is recorded but in no slice (a pod no Service selects): no disagreement.

  // The same addresses written another way in the records agree (198.19.72.4 is on node-b
  // and not recorded here).
  auto agreed = FindLocalityMismatches(
      store, "node-a",
      {Record("c1", "198.19.72.2"), Record("c2", "198.19.72.3"), Record("c3", "fd00:72::0:5")}, {});
  EXPECT_TRUE(agreed.empty()) << Describe(agreed.front());
}

TEST(LocalityCheck, NotReadyEndpointsAndTheNodesOwnAddressesAreLeftOut) {
  model::Store store;
  // A pod terminating (its DEL may come first), and a hostNetwork pod on the node's address.
  AddSlice(store, "pg-1",
           {Endpoint("198.19.72.3", "node-a", /*ready=*/false), Endpoint("198.18.0.1", "node-a")});
  EXPECT_TRUE(FindLocalityMismatches(store, "node-a", {}, {"198.18.0.1"}).empty());
  EXPECT_EQ(FindLocalityMismatches(store, "node-a", {}, {}).size(), 1u);
}

TEST(LocalityCheck, KeepsTheCurrentList) {
  LocalityCheck check;
  EXPECT_TRUE(check.Current().empty());
  std::vector<LocalityMismatch> one = {{Kind::kNoRecord, "198.19.72.3", "default/pg-1", "node-a"}};
  check.Update(one);
  check.Update(one);  // unchanged: logged once
  EXPECT_EQ(check.Current(), one);
  check.Update({});
  EXPECT_TRUE(check.Current().empty());
  EXPECT_NE(Describe(one[0]).find("no record"), std::string::npos) << Describe(one[0]);
}

}  // namespace
}  // namespace xgate::pods
