// The per-CPU flow cache in front of the connection table (bpf/flow_cache.h): a hit sends
// the same frame the connection-table path sends, counts the same, and a change (backend,
// drain, connection entry, egress) is honoured on the next packet through xg_flow_gen.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/bpf/fastpath_fixture.h"

namespace xgate::testing {
namespace {

using FlowCacheTest = FastPathTest;

// Packets of one flow: the first goes the connection-table path (new flow), the second is
// served from the flow cache, the third goes the connection-table path again (a hit there)
// after the generation moved on; all three leave as the same frame.
TEST_F(FlowCacheTest, FastPathHitSendsTheFrameTheConntrackPathSends) {
  PacketSpec tcp = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  PacketSpec udp = Udp("198.18.0.2", 40001, "198.18.100.10", 53);
  PacketSpec big = Tcp("198.18.0.2", 40002, "198.18.100.10", 5432);
  big.payload.assign(1200, 'y');
  for (const PacketSpec& spec : {tcp, udp, big}) {
    const uint64_t hits = PathCount(XG_PATH_FLOW_CACHE_HIT);
    const uint64_t ct_hits = PathCount(XG_PATH_CT_HIT);
    RunResult first = FromClient(spec);
    ASSERT_EQ(first.retval, XDP_REDIRECT);
    RunResult cached = FromClient(spec);
    EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), hits + 1) << spec.dst.addr << ":" << spec.dst.port;
    MoveFlowGenerationOn();
    RunResult again = FromClient(spec);
    EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), hits + 1);
    EXPECT_EQ(PathCount(XG_PATH_CT_HIT), ct_hits + 2);
    EXPECT_EQ(cached.retval, first.retval);
    EXPECT_EQ(again.retval, first.retval);
    EXPECT_EQ(cached.out, first.out);
    EXPECT_EQ(again.out, first.out);
    EXPECT_EQ(ChecksumProblems(cached.out), "");
    EXPECT_EQ(Parse(cached.out).ttl, spec.ttl - 1);
  }
}

// A UDP datagram without a checksum keeps none; one with a partial checksum (a local sender
// with transmit offload) is completed, as on the connection-table path.
TEST_F(FlowCacheTest, FastPathHitKeepsChecksumRules) {
  PacketSpec spec = Udp("198.18.0.2", 40003, "198.18.100.10", 53);
  std::vector<uint8_t> none = BuildPacket(spec);
  const size_t udp_check = 14 + 20 + 6;
  none[udp_check] = none[udp_check + 1] = 0;
  RunResult first = RunXdp(Xdp(), none, IfIndex(kClientIf));
  RunResult cached = RunXdp(Xdp(), none, IfIndex(kClientIf));
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 1u);
  EXPECT_EQ(cached.out, first.out);
  EXPECT_EQ(cached.out[udp_check], 0);
  EXPECT_EQ(cached.out[udp_check + 1], 0);

  std::vector<uint8_t> partial = BuildPacket(spec);
  MakePartialChecksum(partial);
  RunResult completed = RunXdp(Xdp(), partial, IfIndex(kClientIf));
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 2u);
  EXPECT_EQ(PathCount(XG_PATH_PARTIAL_CSUM), 1u);
  EXPECT_EQ(ChecksumProblems(completed.out), "");
  EXPECT_EQ(completed.out, RunXdp(Xdp(), BuildPacket(spec), IfIndex(kClientIf)).out);
}

// What the cache does not serve goes the connection-table path every time: IPv6, a VLAN tag,
// TTL 1, another ingress interface than the slot's, a packet over the route's MTU, a
// backend TC sends to.
TEST_F(FlowCacheTest, WhatTheSlotCannotAnswerTakesTheConntrackPath) {
  PacketSpec v6 = Tcp("fd00::2", 40000, "fd00:100::10", 5432);
  PacketSpec vlan = Tcp("198.18.0.2", 40010, "198.18.100.11", 6000);
  vlan.vlan = true;
  for (const PacketSpec& spec : {v6, vlan}) {
    for (int i = 0; i < 3; ++i) FromClient(spec);
  }
  PacketSpec spec = Tcp("198.18.0.2", 40011, "198.18.100.11", 6000);
  FromClient(spec);  // fills the slot
  PacketSpec last_hop = spec;
  last_hop.ttl = 1;
  EXPECT_EQ(FromClient(last_hop).retval, XDP_PASS);
  RunResult other_if = RunXdp(Xdp(), BuildPacket(spec), IfIndex(kBackendIf));
  EXPECT_EQ(other_if.retval, XDP_TX);
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 0u);

  ASSERT_TRUE(BackendTakesXdp(false));
  PacketSpec plain = Tcp("198.18.0.2", 40012, "198.18.100.11", 6000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(FromClient(plain).retval, XDP_PASS);
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 0u);
}

// Every packet counts once per counter whichever path serves it.
TEST_F(FlowCacheTest, CountersAddUp) {
  PacketSpec spec = Udp("198.18.0.2", 40020, "198.18.100.10", 53);
  const uint64_t len = BuildPacket(spec).size();
  constexpr uint64_t kPackets = 20;
  for (uint64_t i = 0; i < kPackets; ++i) {
    if (i == 10) MoveFlowGenerationOn();  // one more pass through the connection table
    ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  }
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 1u);
  EXPECT_EQ(PathCount(XG_PATH_CT_HIT), kPackets - 1);
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), kPackets - 2);
  EXPECT_EQ(PathCount(XG_PATH_FORWARD), kPackets);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  ASSERT_TRUE(ct.ok());
  auto entry = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  for (auto [map, index] : {std::pair{maps::kListenerStats, (*entry)->listener},
                            std::pair{maps::kBackendStats, (*entry)->backend_id}}) {
    auto c = maps::TrafficCounters::OpenPinned(maps::PinPath(root_, map));
    ASSERT_TRUE(c.ok());
    auto t = c->Read(index);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->packets, kPackets) << map;
    EXPECT_EQ(t->bytes, kPackets * len) << map;
  }
}

// A backend freed (drain time 0): the agent's Apply moves the generation on, so the next
// packet is picked again instead of reaching the freed backend from its slot.
TEST_F(FlowCacheTest, AFreedBackendIsHonouredOnTheNextPacket) {
  applier_->Stop(/*detach=*/true);
  l4::L4ApplierOptions options{root_, {}};
  options.drain_idle = std::chrono::nanoseconds(0);
  auto applier = l4::L4Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();
  applier_ = std::move(*applier);
  ASSERT_TRUE(applier_->Apply(BaseSnapshot()).ok());
  ASSERT_TRUE(BackendTakesXdp(true));
  PacketSpec on3;
  for (int i = 0; i < 1000; ++i) {
    on3 = Tcp("198.18.0.2", 30000 + i, "198.18.100.10", 5432);
    if (Parse(FromClient(on3).out).dst == "198.18.1.3") break;
  }
  ASSERT_EQ(Parse(FromClient(on3).out).dst, "198.18.1.3");
  const uint64_t hits = PathCount(XG_PATH_FLOW_CACHE_HIT);
  ASSERT_GE(hits, 1u);
  Snapshot only2 = BaseSnapshot();
  only2.l4[0].backends.pop_back();
  ASSERT_TRUE(applier_->Apply(only2).ok());
  EXPECT_EQ(Parse(FromClient(on3).out).dst, "198.18.1.2");
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), hits);
}

// A removed backend with a live flow drains: the flow keeps it, from its slot again once the
// connection-table path has refilled it.
TEST_F(FlowCacheTest, ADrainingBackendKeepsItsFlowThroughTheCache) {
  PacketSpec on3;
  for (int i = 0; i < 1000; ++i) {
    on3 = Tcp("198.18.0.2", 31000 + i, "198.18.100.10", 5432);
    if (Parse(FromClient(on3).out).dst == "198.18.1.3") break;
  }
  ASSERT_EQ(Parse(FromClient(on3).out).dst, "198.18.1.3");
  Snapshot only2 = BaseSnapshot();
  only2.l4[0].backends.pop_back();
  ASSERT_TRUE(applier_->Apply(only2).ok());
  const uint64_t hits = PathCount(XG_PATH_FLOW_CACHE_HIT);
  EXPECT_EQ(Parse(FromClient(on3).out).dst, "198.18.1.3");  // refills
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), hits);
  EXPECT_EQ(Parse(FromClient(on3).out).dst, "198.18.1.3");
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), hits + 1);
}

// A connection entry deleted from outside the agent: its slot answers until the generation
// moves on (the writer's part of the contract), then the flow is new again.
TEST_F(FlowCacheTest, AConntrackDeletionIsHonouredOnceTheGenerationMoves) {
  PacketSpec spec = Tcp("198.18.0.2", 40030, "198.18.100.11", 6000);
  FromClient(spec);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  ASSERT_TRUE(ct.ok());
  ASSERT_TRUE(ct->Delete(FlowKey(spec)).ok());
  FromClient(spec);
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 1u);
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 1u);
  MoveFlowGenerationOn();
  EXPECT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 2u);
  auto entry = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(entry.ok());
  EXPECT_TRUE(entry->has_value());
}

// The slot lives no longer than the flow's cached next hop, so the connection-table path
// still runs when it would have (last_seen_ns is refreshed there, and expiry stays right).
TEST_F(FlowCacheTest, AnExpiredNextHopRefreshesTheConnectionEntry) {
  PacketSpec spec = Udp("198.18.0.2", 40040, "198.18.100.10", 53);
  FromClient(spec);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  ASSERT_TRUE(ct.ok());
  auto entry = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  xg_ct_entry old = **entry;
  old.nh.expires = 1;
  old.last_seen_ns = 1;
  ASSERT_TRUE(ct->Update(FlowKey(spec), old).ok());
  MoveFlowGenerationOn();
  FromClient(spec);
  auto refreshed = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(refreshed.ok() && refreshed->has_value());
  EXPECT_GT((*refreshed)->last_seen_ns, 1u);
  EXPECT_GT((*refreshed)->nh.expires, 1u);
  FromClient(spec);
  EXPECT_EQ(PathCount(XG_PATH_FLOW_CACHE_HIT), 1u);
}

}  // namespace
}  // namespace xgate::testing
