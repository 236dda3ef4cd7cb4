// The fast-path tests' fixture: an L4Applier on a pin root of its own with the base snapshot,
// in the BPF test environment (tests/bpf/bpf_env.h), and helpers to build and check packets.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/compiler/snapshot.h"
#include "agent/l4/l4_applier.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/bpf/bpf_env.h"
#include "tests/bpf/l4_listener.h"
#include "tests/bpf/packet.h"
#include "tests/netns/netns.h"

namespace xgate::testing {

using compiler::L4Backend;
using compiler::L4Listener;
using compiler::Snapshot;

inline L4Listener Listener(std::string addr, uint16_t port, uint8_t proto,
                           std::vector<L4Backend> backends) {
  return L4ListenerOf(std::move(addr), port, proto, std::move(backends));
}

inline Snapshot BaseSnapshot(uint32_t db2_weight = 800000, uint32_t db3_weight = 200000) {
  Snapshot s;
  s.generation = 1;
  s.l4.push_back(Listener("198.18.100.10", 5432, IPPROTO_TCP,
                          {{"198.18.1.2", 5432, db2_weight, "default/db"},
                           {"198.18.1.3", 5432, db3_weight, "default/db"}}));
  s.l4.push_back(
      Listener("198.18.100.10", 53, IPPROTO_UDP, {{"198.18.1.2", 5353, 1000000, "default/dns"}}));
  s.l4.push_back(
      Listener("198.18.100.11", 6000, IPPROTO_TCP, {{"198.18.1.2", 6000, 1000000, "default/one"}}));
  s.l4.push_back(Listener("198.18.100.12", 7000, IPPROTO_TCP, {}));
  s.l4.push_back(Listener("198.18.100.13", 6000, IPPROTO_TCP,
                          {{"198.18.1.9", 6000, 1000000, "default/noneigh"}}));
  s.l4.push_back(
      Listener("fd00:100::10", 5432, IPPROTO_TCP, {{"fd00:1::2", 5432, 1000000, "default/db6"}}));
  s.l4.push_back(
      Listener("fd00:100::10", 53, IPPROTO_UDP, {{"fd00:1::2", 5353, 1000000, "default/dns6"}}));
  s.punt.push_back({"198.18.100.1", 80});
  return s;
}

class FastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = EnterBpfTestEnvironment();
    if (!why.empty()) {
      if (PrivilegeRequired()) FAIL() << why << " (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << why;
    }
    // On one CPU: the flow cache is per CPU, so a flow's later packets find its slot.
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    static int counter = 0;
    root_ = "/sys/fs/bpf/xgate-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    auto applier = l4::L4Applier::Create({root_, {}});
    ASSERT_TRUE(applier.ok()) << applier.status();
    applier_ = std::move(*applier);
    ASSERT_TRUE(applier_->Apply(BaseSnapshot()).ok());
    // The backend's veth takes XDP_REDIRECTed frames: its peer has GRO (NAPI). The plain case,
    // which does not, is PlainBackend* in fastpath_test.cc.
    ASSERT_TRUE(BackendTakesXdp(true));
  }
  // GRO on the client side's end of the pair gives the backend side's end NAPI (and so the
  // kernel's NETDEV_XDP_ACT_NDO_XMIT), and the agent's xg_egress follows it.
  bool BackendTakesXdp(bool on) {
    if (!e2e::SetGro(kClientIf, on)) return false;
    l4::EgressWatch* watch = applier_->datapath().egress();
    if (!watch || !watch->Sync().ok()) return false;
    return watch->Written().count(IfIndex(kBackendIf)) == (on ? 1u : 0u);
  }
  void TearDown() override {
    if (applier_) applier_->Stop(/*detach=*/true);
    applier_.reset();
    if (!root_.empty()) {
      EXPECT_FALSE(std::filesystem::exists(root_));
    }
  }

  int Xdp() { return applier_->datapath().XdpProgFd(); }
  int TcIn() { return applier_->datapath().TcIngressProgFd(); }
  int TcOut() { return applier_->datapath().TcEgressProgFd(); }

  uint64_t PathCount(uint32_t path) { return Counter(maps::kPathStats, path); }
  uint64_t DropCount(uint32_t reason) { return Counter(maps::kDropStats, reason); }
  uint64_t Counter(std::string_view map, uint32_t index) {
    auto c = maps::TrafficCounters::OpenPinned(maps::PinPath(root_, map));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return 0;
    auto t = c->Read(index);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->packets : 0;
  }

  // What a writer of xg_conntrack or xg_backends other than the agent does after its write:
  // moves xg_flow_gen on, so no flow cache slot outlives what it was filled from.
  void MoveFlowGenerationOn() {
    auto gen = maps::MapFd::OpenPinned(maps::PinPath(root_, maps::kFlowGen), 4, 4);
    ASSERT_TRUE(gen.ok()) << gen.status();
    ASSERT_TRUE(maps::BumpGeneration(gen->fd(), gen->name()).ok());
  }

  // Sends a client packet through XDP as received on the client side.
  RunResult FromClient(const PacketSpec& spec) {
    RunResult r = RunXdp(Xdp(), BuildPacket(spec), IfIndex(kClientIf));
    EXPECT_EQ(r.err, 0) << std::strerror(r.err);
    return r;
  }

  std::string root_;
  std::unique_ptr<l4::L4Applier> applier_;
};

inline PacketSpec Tcp(std::string src, uint16_t sport, std::string dst, uint16_t dport) {
  return {{std::move(src), sport}, {std::move(dst), dport}, IPPROTO_TCP};
}
inline PacketSpec Udp(std::string src, uint16_t sport, std::string dst, uint16_t dport) {
  return {{std::move(src), sport}, {std::move(dst), dport}, IPPROTO_UDP};
}

// The connection-table key of a packet as the client sends it.
inline xg_flow FlowKey(const PacketSpec& spec) {
  xg_flow f{};
  uint8_t family = 0;
  EXPECT_TRUE(maps::ParseAddress(spec.src.addr, f.src, &family).ok());
  EXPECT_TRUE(maps::ParseAddress(spec.dst.addr, f.dst, &family).ok());
  f.sport = spec.src.port;
  f.dport = spec.dst.port;
  f.proto = spec.proto;
  return f;
}

inline void ExpectForwarded(const RunResult& r, const PacketSpec& in, const std::string& backend,
                            uint16_t port) {
  Parsed p = Parse(r.out);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.dst, backend);
  EXPECT_EQ(p.dport, port);
  EXPECT_EQ(p.src, in.src.addr);  // no SNAT: the backend sees the client
  EXPECT_EQ(p.sport, in.src.port);
  EXPECT_EQ(p.payload, in.payload);
  EXPECT_EQ(ChecksumProblems(r.out), "");
}

}  // namespace xgate::testing
