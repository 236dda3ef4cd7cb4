// The XDP and TC programs on crafted packets: every verdict, every rewrite, checksums
// recomputed over the result.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "tests/bpf/fastpath_fixture.h"

namespace xgate::testing {
namespace {

// The checker the tests rely on does catch a bad checksum (no privileges needed).
TEST(PacketCheckerTest, CatchesCorruptedChecksums) {
  for (const PacketSpec& spec :
       {Tcp("198.18.0.2", 1, "198.18.1.2", 2), Udp("fd00::2", 1, "fd00:1::2", 2)}) {
    std::vector<uint8_t> good = BuildPacket(spec);
    EXPECT_EQ(ChecksumProblems(good), "");
    std::vector<uint8_t> bad = good;
    bad.back() ^= 0x01;  // payload byte
    EXPECT_NE(ChecksumProblems(bad), "");
  }
  std::vector<uint8_t> ip = BuildPacket(Tcp("198.18.0.2", 1, "198.18.1.2", 2));
  ip[14 + 8] ^= 1;  // TTL without fixing the header checksum
  EXPECT_NE(ChecksumProblems(ip), "");
}

TEST_F(FastPathTest, MapsArePinnedUnderTheRoot) {
  for (std::string_view name : maps::kAllMaps) {
    EXPECT_TRUE(std::filesystem::exists(maps::PinPath(root_, name))) << name;
  }
}

// BTF on the maps: bpftool prints named fields.
TEST_F(FastPathTest, BpftoolDumpShowsNamedFields) {
  std::string cmd = "bpftool -j map dump pinned " + maps::PinPath(root_, maps::kListeners);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  for (const char* field :
       {"\"formatted\"", "\"service_id\"", "\"counter_index\"", "\"port\":5432", "\"proto\":17"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " not in " << out.substr(0, 400);
  }
}

TEST_F(FastPathTest, NonIpPasses) {
  std::vector<uint8_t> arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  RunResult r = RunXdp(Xdp(), arp);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, arp);
  EXPECT_EQ(PathCount(XG_PATH_PASS_NOT_IP), 1u);
}

TEST_F(FastPathTest, UnknownListenerPassesUntouched) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.100.10", 9999));
  RunResult r = RunXdp(Xdp(), in);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, in);
  // Same address and port, other protocol: no listener either.
  r = RunXdp(Xdp(), BuildPacket(Udp("198.18.0.2", 40000, "198.18.100.10", 5432)));
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(PathCount(XG_PATH_PASS_NO_LISTENER), 2u);
}

TEST_F(FastPathTest, PuntListenerPassesToTheStackAndCounts) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.100.1", 80));
  RunResult r = RunXdp(Xdp(), in);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, in);
  EXPECT_EQ(PathCount(XG_PATH_PUNT), 1u);
}

TEST_F(FastPathTest, Ipv4FragmentPasses) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  in[14 + 6] = 0x20;  // more fragments
  RunResult r = RunXdp(Xdp(), in);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, in);
  EXPECT_EQ(PathCount(XG_PATH_PASS_FRAGMENT), 1u);
}

TEST_F(FastPathTest, Ipv4TcpIsRewrittenAndRedirected) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  ExpectForwarded(r, spec, "198.18.1.2", 6000);
  EXPECT_EQ(Parse(r.out).ttl, 63);
  EXPECT_EQ(std::memcmp(r.out.data(), kBackendMac, 6), 0) << "destination MAC from the FIB";
  EXPECT_EQ(PathCount(XG_PATH_FORWARD), 1u);
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 1u);
}

TEST_F(FastPathTest, SameInterfaceIsXdpTx) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  RunResult r = RunXdp(Xdp(), BuildPacket(spec), IfIndex(kBackendIf));
  EXPECT_EQ(r.retval, XDP_TX);
  ExpectForwarded(r, spec, "198.18.1.2", 6000);
}

TEST_F(FastPathTest, Ipv4UdpIsRewritten) {
  PacketSpec spec = Udp("198.18.0.2", 40001, "198.18.100.10", 53);
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  ExpectForwarded(r, spec, "198.18.1.2", 5353);
}

TEST_F(FastPathTest, Ipv4UdpWithoutChecksumKeepsNone) {
  std::vector<uint8_t> in = BuildPacket(Udp("198.18.0.2", 40001, "198.18.100.10", 53));
  in[14 + 20 + 6] = 0;
  in[14 + 20 + 7] = 0;
  RunResult r = RunXdp(Xdp(), in, IfIndex(kClientIf));
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  EXPECT_EQ(r.out[14 + 20 + 6], 0);
  EXPECT_EQ(r.out[14 + 20 + 7], 0);
  EXPECT_EQ(Parse(r.out).dst, "198.18.1.2");
}

TEST_F(FastPathTest, Ipv6TcpIsRewritten) {
  PacketSpec spec = Tcp("fd00::2", 40000, "fd00:100::10", 5432);
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  ExpectForwarded(r, spec, "fd00:1::2", 5432);
  EXPECT_EQ(Parse(r.out).ttl, 63);
}

TEST_F(FastPathTest, Ipv6UdpIsRewritten) {
  PacketSpec spec = Udp("fd00::2", 40000, "fd00:100::10", 53);
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  ExpectForwarded(r, spec, "fd00:1::2", 5353);
}

TEST_F(FastPathTest, VlanTaggedIsRewrittenAndLeftToTheStack) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  spec.vlan = true;
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_PASS);
  ExpectForwarded(r, spec, "198.18.1.2", 6000);
  EXPECT_EQ(r.out[12], 0x81);  // tag kept
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_UP), 1u);
}

TEST_F(FastPathTest, NoNeighbourPassesTheRewrittenPacket) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.13", 6000);
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_PASS);
  ExpectForwarded(r, spec, "198.18.1.9", 6000);
  EXPECT_EQ(Parse(r.out).ttl, 64) << "the stack decrements it when it routes";
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_UP), 1u);
}

// A backend behind a plain veth (nothing on its far end, GRO off: a pod's interface) would
// drop XDP_REDIRECTed frames: XDP hands the rewritten packet up and TC ingress sends it on.
TEST_F(FastPathTest, PlainBackendIsSentByTcNotXdp) {
  ASSERT_TRUE(BackendTakesXdp(false));
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  RunResult up = FromClient(spec);
  EXPECT_EQ(up.retval, XDP_PASS);
  ExpectForwarded(up, spec, "198.18.1.2", 6000);
  EXPECT_EQ(Parse(up.out).ttl, 64) << "TC decrements it";
  EXPECT_EQ(PathCount(XG_PATH_FORWARD), 0u);
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_UP), 1u);

  RunResult tc = RunTc(TcIn(), up.out, IfIndex(kClientIf));
  ASSERT_EQ(tc.err, 0);
  EXPECT_EQ(tc.retval, static_cast<uint32_t>(TC_ACT_REDIRECT));
  ExpectForwarded(tc, spec, "198.18.1.2", 6000);
  EXPECT_EQ(Parse(tc.out).ttl, 63);
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_TC), 1u);
  EXPECT_EQ(PathCount(XG_PATH_RNAT), 0u) << "not a reply";

  // The flow's next packet (a conntrack hit, its next hop cached) goes the same way.
  EXPECT_EQ(FromClient(spec).retval, XDP_PASS);
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_UP), 2u);
}

TEST_F(FastPathTest, PlainBackendV6IsSentByTc) {
  ASSERT_TRUE(BackendTakesXdp(false));
  PacketSpec spec = Udp("fd00::2", 40000, "fd00:100::10", 53);
  RunResult up = FromClient(spec);
  EXPECT_EQ(up.retval, XDP_PASS);
  RunResult tc = RunTc(TcIn(), up.out, IfIndex(kClientIf));
  EXPECT_EQ(tc.retval, static_cast<uint32_t>(TC_ACT_REDIRECT));
  ExpectForwarded(tc, spec, "fd00:1::2", 5353);
  EXPECT_EQ(Parse(tc.out).ttl, 63);
}

// GRO turned off, then on, under an open flow: its cached next hop follows at once (the
// agent moves xg_egress_gen on), not when the cache would expire.
TEST_F(FastPathTest, BackendCapabilityChangeReachesAnOpenFlow) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  EXPECT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  ASSERT_TRUE(BackendTakesXdp(false));
  EXPECT_EQ(FromClient(spec).retval, XDP_PASS);
  ASSERT_TRUE(BackendTakesXdp(true));
  EXPECT_EQ(FromClient(spec).retval, XDP_REDIRECT);
}

TEST_F(FastPathTest, TcIngressLeavesUntrackedPacketsAlone) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.1.2", 6000));
  RunResult tc = RunTc(TcIn(), in, IfIndex(kClientIf));
  EXPECT_EQ(tc.retval, static_cast<uint32_t>(TC_ACT_OK));
  EXPECT_EQ(tc.out, in);
  EXPECT_EQ(PathCount(XG_PATH_FORWARD_TC), 0u);
}

// Two veth pairs in the calling thread's namespace, with fixed ifindexes (the same in every
// namespace that makes them): frames sent into xgs0 meet, at XDP on its peer xgs1, a bare
// redirect toward xgt0, whose peer xgt1 has nothing loaded, so the kernel refuses each one.
class RedirectIntoPlainVeth {
 public:
  static constexpr int kTarget = 4040;

  bool Create() {
    created_ = e2e::Sh(
        "ip link add xgs0 index 4030 type veth peer name xgs1 index 4031 && "
        "ip link add xgt0 index 4040 type veth peer name xgt1 index 4041 && "
        // No IPv6 on them: the kernel's own router solicitations, MLD reports and DAD
        // probes would be redirected and counted beside the test's frames.
        "for i in xgs0 xgs1 xgt0 xgt1; do sysctl -qw net.ipv6.conf.$i.disable_ipv6=1; done && "
        "ip link set xgs0 up && ip link set xgs1 up && ip link set xgt0 up && ip link set xgt1 up");
    if (!created_) return false;
    const bpf_insn redirect[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, kTarget},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0},
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "redirect", "GPL", redirect, 4, nullptr);
    if (prog < 0) return false;
    bool attached = bpf_xdp_attach(IfIndex("xgs1"), prog, XDP_FLAGS_DRV_MODE, nullptr) == 0;
    close(prog);
    return attached;
  }
  ~RedirectIntoPlainVeth() {
    if (created_) e2e::Sh("ip link del xgs0; ip link del xgt0");
  }

  // Sends `frames` UDP frames into xgs0; how many XDP on xgs1 has run on, waited for (bounded).
  uint64_t Send(int frames) {
    int sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (sock < 0) return 0;
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = IfIndex("xgs0");
    to.sll_halen = ETH_ALEN;
    std::vector<uint8_t> frame = BuildPacket(Udp("198.18.0.2", 40000, "198.18.1.2", 5353));
    for (int i = 0; i < frames; ++i) {
      sendto(sock, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    close(sock);
    uint64_t seen = 0;
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
         seen < static_cast<uint64_t>(frames) && std::chrono::steady_clock::now() < until;) {
      seen = XdpSeen();
      if (seen < static_cast<uint64_t>(frames))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return seen;
  }

 private:
  // The frames XDP ran on at xgs1 (veth's own ethtool counter).
  static uint64_t XdpSeen() {
    FILE* p = popen("ethtool -S xgs1 2>/dev/null", "r");
    if (!p) return 0;
    uint64_t seen = 0;
    char line[256];
    while (fgets(line, sizeof(line), p)) {
      unsigned long long v = 0;
      if (std::sscanf(line, " rx_queue_0_xdp_packets: %llu", &v) == 1) seen = v;
    }
    pclose(p);
    return seen;
  }

  bool created_ = false;
};

// Frames XDP_REDIRECTed toward a veth whose peer has no NAPI are dropped by the kernel (since
// 6.3 the redirect itself is refused): the transmit-drop counter the datapath runs counts them
// per device, each frame XDP saw once, and only in its own network namespace: the same
// redirect in another namespace, toward a device with the same ifindex, is not counted.
TEST_F(FastPathTest, RedirectDropsOfAPlainVethAreCounted) {
  // The frames XDP saw are read from the veth's ethtool counters.
  ASSERT_EQ(std::system("command -v ethtool >/dev/null 2>&1"), 0)
      << "ethtool is needed (tools/setup installs it)";
  constexpr int kFrames = 20;
  const std::string other = "xgo-" + std::to_string(getpid());
  ASSERT_TRUE(e2e::Sh("ip netns add " + other));
  struct DeleteNs {
    std::string name;
    ~DeleteNs() { e2e::Sh("ip netns del " + name); }
  } delete_ns{other};
  uint64_t seen_elsewhere = 0;
  ASSERT_TRUE(e2e::InNamespace(other, [&] {
    RedirectIntoPlainVeth bed;
    if (!bed.Create()) return false;
    seen_elsewhere = bed.Send(kFrames);
    return true;
  }));
  EXPECT_EQ(seen_elsewhere, static_cast<uint64_t>(kFrames));

  RedirectIntoPlainVeth bed;
  ASSERT_TRUE(bed.Create());
  auto before = l4::ReadXmitDrops(root_);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ((*before)[RedirectIntoPlainVeth::kTarget], 0u) << "counted another namespace's";

  const uint64_t seen = bed.Send(kFrames);
  EXPECT_EQ(seen, static_cast<uint64_t>(kFrames)) << "frames XDP ran on within 5 s";
  // The tracepoint fires in the same NAPI turn as XDP's run, before its counter is read back.
  auto drops = l4::ReadXmitDrops(root_);
  ASSERT_TRUE(drops.ok()) << drops.status();
  EXPECT_GT(seen, 0u);
  EXPECT_EQ((*drops)[RedirectIntoPlainVeth::kTarget], seen);
}

TEST_F(FastPathTest, ListenerWithoutBackendsDrops) {
  RunResult r = FromClient(Tcp("198.18.0.2", 40000, "198.18.100.12", 7000));
  EXPECT_EQ(r.retval, XDP_DROP);
  EXPECT_EQ(DropCount(XG_DROP_NO_BACKEND), 1u);
}

TEST_F(FastPathTest, TruncatedHeadersDrop) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  in.resize(14 + 20 + 10);  // TCP header cut short
  RunResult r = RunXdp(Xdp(), in);
  EXPECT_EQ(r.retval, XDP_DROP);
  EXPECT_EQ(DropCount(XG_DROP_TRUNCATED), 1u);
}

TEST_F(FastPathTest, SharesFollowWeightsThroughTheKernel) {
  std::map<std::string, int> seen;
  constexpr int kFlows = 4000;
  for (int i = 0; i < kFlows; ++i) {
    std::string client = "198.18.0." + std::to_string(2 + i % 200);
    RunResult r = RunXdp(Xdp(), BuildPacket(Tcp(client, 20000 + i, "198.18.100.10", 5432)));
    ASSERT_EQ(r.err, 0);
    seen[Parse(r.out).dst]++;
  }
  EXPECT_NEAR(seen["198.18.1.2"] / double(kFlows), 0.8, 0.03);
  EXPECT_NEAR(seen["198.18.1.3"] / double(kFlows), 0.2, 0.03);
}

TEST_F(FastPathTest, ConntrackKeepsTheBackendAcrossAWeightChange) {
  // Find one flow per backend under 80/20.
  std::map<std::string, PacketSpec> flows;
  for (int i = 0; flows.size() < 2 && i < 1000; ++i) {
    PacketSpec spec = Tcp("198.18.0.2", 30000 + i, "198.18.100.10", 5432);
    flows.emplace(Parse(RunXdp(Xdp(), BuildPacket(spec)).out).dst, spec);
  }
  ASSERT_EQ(flows.size(), 2u);
  // All weight to .2: the flow on .3 stays there (tracked); new flows go to .2.
  ASSERT_TRUE(applier_->Apply(BaseSnapshot(1000000, 0)).ok());
  EXPECT_EQ(Parse(RunXdp(Xdp(), BuildPacket(flows["198.18.1.3"])).out).dst, "198.18.1.3");
  EXPECT_EQ(Parse(RunXdp(Xdp(), BuildPacket(flows["198.18.1.2"])).out).dst, "198.18.1.2");
  for (int i = 0; i < 50; ++i) {
    RunResult r = RunXdp(Xdp(), BuildPacket(Tcp("198.18.0.3", 50000 + i, "198.18.100.10", 5432)));
    EXPECT_EQ(Parse(r.out).dst, "198.18.1.2");
  }
  EXPECT_GE(PathCount(XG_PATH_CT_HIT), 2u);

  // .3 removed altogether while its flow is live: the flow drains there.
  Snapshot only2 = BaseSnapshot();
  only2.l4[0].backends.pop_back();
  ASSERT_TRUE(applier_->Apply(only2).ok());
  EXPECT_EQ(Parse(RunXdp(Xdp(), BuildPacket(flows["198.18.1.3"])).out).dst, "198.18.1.3");
}

TEST_F(FastPathTest, AFreedBackendsFlowsArePickedAgain) {
  applier_->Stop(/*detach=*/true);
  l4::L4ApplierOptions options{root_, {}};
  options.drain_idle = std::chrono::nanoseconds(0);  // removed backends are freed at once
  auto applier = l4::L4Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();
  applier_ = std::move(*applier);
  ASSERT_TRUE(applier_->Apply(BaseSnapshot()).ok());
  PacketSpec on3;
  for (int i = 0; i < 1000; ++i) {
    on3 = Tcp("198.18.0.2", 30000 + i, "198.18.100.10", 5432);
    if (Parse(RunXdp(Xdp(), BuildPacket(on3)).out).dst == "198.18.1.3") break;
  }
  ASSERT_EQ(Parse(RunXdp(Xdp(), BuildPacket(on3)).out).dst, "198.18.1.3");
  Snapshot only2 = BaseSnapshot();
  only2.l4[0].backends.pop_back();
  ASSERT_TRUE(applier_->Apply(only2).ok());
  EXPECT_EQ(Parse(RunXdp(Xdp(), BuildPacket(on3)).out).dst, "198.18.1.2");
}

TEST_F(FastPathTest, ListenerRemovalStopsForwarding) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  EXPECT_EQ(Parse(RunXdp(Xdp(), in).out).dst, "198.18.1.2");  // a tracked flow
  Snapshot s = BaseSnapshot();
  s.l4.erase(s.l4.begin() + 2);  // 198.18.100.11:6000
  ASSERT_TRUE(applier_->Apply(s).ok());
  RunResult r = RunXdp(Xdp(), in);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, in);
}

// A connection-table hit is taken without a listener lookup, so the backend it names must
// still serve the listener the flow is addressed to (an id reused for another listener's
// backend does not carry the flow over).
TEST_F(FastPathTest, ConntrackHitNeedsTheBackendToServeTheFlowsListener) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  EXPECT_EQ(Parse(FromClient(spec).out).dst, "198.18.1.2");
  EXPECT_EQ(Parse(FromClient(spec).out).dst, "198.18.1.2");
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 1u);
  EXPECT_EQ(PathCount(XG_PATH_CT_HIT), 1u);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  auto backends = maps::BackendMap::OpenPinned(maps::PinPath(root_, maps::kBackends));
  ASSERT_TRUE(ct.ok() && backends.ok());
  auto entry = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  auto b = backends->Lookup((*entry)->backend_id);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->listener.port, 6000);
  EXPECT_EQ((*b)->listener.proto, IPPROTO_TCP);
  xg_backend reused = **b;
  reused.listener.port = 7777;
  ASSERT_TRUE(backends->Update((*entry)->backend_id, reused).ok());
  MoveFlowGenerationOn();
  FromClient(spec);
  EXPECT_EQ(PathCount(XG_PATH_CT_HIT), 1u);
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 2u);
}

// The first packet of a flow looks the next hop up and leaves it in the flow's entry.
TEST_F(FastPathTest, NextHopIsCachedInTheConnection) {
  PacketSpec spec = Udp("198.18.0.2", 41000, "198.18.100.10", 53);
  EXPECT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  ASSERT_TRUE(ct.ok()) << ct.status();
  auto entry = ct->Lookup(FlowKey(spec));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  const xg_nexthop& nh = (*entry)->nh;
  EXPECT_EQ(nh.ifindex, static_cast<uint32_t>(IfIndex(kBackendIf)));
  EXPECT_EQ(nh.in_ifindex, static_cast<uint32_t>(IfIndex(kClientIf)));
  EXPECT_EQ(std::memcmp(nh.dmac, kBackendMac, 6), 0);
  EXPECT_EQ(std::memcmp(nh.smac, kBackendIfMac, 6), 0);
  EXPECT_EQ(nh.mtu, 1500);
  EXPECT_GT(nh.expires, 0u);
}

// Later packets take the cached next hop while it stands, for the interface it was looked up
// for and packets that fit its MTU; otherwise the FIB answers again and refills the cache.
TEST_F(FastPathTest, CachedNextHopIsUsedWhileItStands) {
  PacketSpec spec = Udp("198.18.0.2", 41001, "198.18.100.10", 53);
  FromClient(spec);
  auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
  ASSERT_TRUE(ct.ok()) << ct.status();
  const xg_flow key = FlowKey(spec);
  auto entry = ct->Lookup(key);
  ASSERT_TRUE(entry.ok() && entry->has_value());
  const uint8_t marked[6] = {0x02, 0xee, 0xee, 0xee, 0xee, 0xee};
  auto plant = [&](uint64_t expires, uint16_t mtu) {
    xg_ct_entry e = **entry;
    std::memcpy(e.nh.dmac, marked, 6);
    e.nh.expires = expires;
    e.nh.mtu = mtu;
    ASSERT_TRUE(ct->Update(key, e).ok());
    MoveFlowGenerationOn();
  };
  const uint64_t far_future = uint64_t{1} << 62;

  plant(far_future, 1500);  // standing: used as is
  RunResult r = FromClient(spec);
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  EXPECT_EQ(std::memcmp(r.out.data(), marked, 6), 0);
  ExpectForwarded(r, spec, "198.18.1.2", 5353);

  plant(1, 1500);  // expired: looked up again
  r = FromClient(spec);
  EXPECT_EQ(std::memcmp(r.out.data(), kBackendMac, 6), 0);
  auto refreshed = ct->Lookup(key);
  ASSERT_TRUE(refreshed.ok() && refreshed->has_value());
  EXPECT_EQ(std::memcmp((*refreshed)->nh.dmac, kBackendMac, 6), 0);
  EXPECT_GT((*refreshed)->nh.expires, 1u);

  plant(far_future, 40);  // the packet is bigger than the cached MTU
  EXPECT_EQ(std::memcmp(FromClient(spec).out.data(), kBackendMac, 6), 0);

  plant(far_future, 1500);  // looked up for another ingress interface
  r = RunXdp(Xdp(), BuildPacket(spec), IfIndex(kBackendIf));
  EXPECT_EQ(r.retval, XDP_TX);
  EXPECT_EQ(std::memcmp(r.out.data(), kBackendMac, 6), 0);
}

TEST_F(FastPathTest, BadSnapshotIsRefusedAndTheOldOneKeepsServing) {
  Snapshot bad = BaseSnapshot();
  bad.l4[2].backends[0].address = "fd00:1::2";  // family mismatch
  absl::Status s = applier_->Apply(bad);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("198.18.100.11"), std::string::npos) << s;
  RunResult r = FromClient(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  EXPECT_EQ(Parse(r.out).dst, "198.18.1.2");
}

TEST_F(FastPathTest, ReverseNatRewritesRepliesV4Tcp) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  PacketSpec reply = Tcp("198.18.1.2", 6000, "198.18.0.2", 40000);
  reply.payload = "reply from the backend";

  RunResult out = RunTc(TcOut(), BuildPacket(reply));
  ASSERT_EQ(out.err, 0);
  EXPECT_EQ(out.retval, static_cast<uint32_t>(TC_ACT_OK));
  Parsed p = Parse(out.out);
  EXPECT_EQ(p.src, "198.18.100.11");
  EXPECT_EQ(p.sport, 6000);
  EXPECT_EQ(p.dst, "198.18.0.2");
  EXPECT_EQ(p.payload, reply.payload);
  EXPECT_EQ(ChecksumProblems(out.out), "");

  // On the backend-side ingress it goes straight out toward the client.
  RunResult in = RunTc(TcIn(), BuildPacket(reply), IfIndex(kBackendIf));
  ASSERT_EQ(in.err, 0);
  EXPECT_EQ(in.retval, static_cast<uint32_t>(TC_ACT_REDIRECT));
  EXPECT_EQ(Parse(in.out).src, "198.18.100.11");
  EXPECT_EQ(Parse(in.out).ttl, 63);
  EXPECT_EQ(ChecksumProblems(in.out), "");
  EXPECT_EQ(PathCount(XG_PATH_RNAT), 2u);
}

TEST_F(FastPathTest, ReverseNatRewritesRepliesV6Udp) {
  PacketSpec spec = Udp("fd00::2", 40000, "fd00:100::10", 53);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  RunResult out = RunTc(TcOut(), BuildPacket(Udp("fd00:1::2", 5353, "fd00::2", 40000)));
  EXPECT_EQ(out.retval, static_cast<uint32_t>(TC_ACT_OK));
  Parsed p = Parse(out.out);
  EXPECT_EQ(p.src, "fd00:100::10");
  EXPECT_EQ(p.sport, 53);
  EXPECT_EQ(ChecksumProblems(out.out), "");
}

TEST_F(FastPathTest, UnrelatedTrafficOnTheBackendSideIsUntouched) {
  std::vector<uint8_t> in = BuildPacket(Tcp("198.18.1.2", 6000, "198.18.0.2", 40000));
  RunResult r = RunTc(TcOut(), in);
  EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_OK));
  EXPECT_EQ(r.out, in);
}

TEST_F(FastPathTest, IcmpFragNeededForAGatewayReplyGoesToTheBackend) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  // A router on the client side could not forward the Gateway's reply.
  PacketSpec reply = Tcp("198.18.100.11", 6000, "198.18.0.2", 40000);
  std::vector<uint8_t> icmp =
      BuildIcmpError("198.18.0.254", "198.18.100.11", IpPart(BuildPacket(reply)), 1000);
  RunResult r = RunXdp(Xdp(), icmp, IfIndex(kClientIf));
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  Parsed outer = Parse(r.out);
  EXPECT_EQ(outer.dst, "198.18.1.2");
  EXPECT_EQ(outer.src, "198.18.0.254");
  Parsed quoted = ParseQuoted(r.out);
  EXPECT_EQ(quoted.src, "198.18.1.2");
  EXPECT_EQ(quoted.sport, 6000);
  EXPECT_EQ(quoted.dst, "198.18.0.2");
  EXPECT_EQ(ChecksumProblems(r.out), "");
  EXPECT_EQ(PathCount(XG_PATH_ICMP_TRANSLATED), 1u);
}

TEST_F(FastPathTest, IcmpPacketTooBigV6ForAGatewayReplyGoesToTheBackend) {
  PacketSpec spec = Tcp("fd00::2", 40000, "fd00:100::10", 5432);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  PacketSpec reply = Tcp("fd00:100::10", 5432, "fd00::2", 40000);
  std::vector<uint8_t> icmp =
      BuildIcmpError("fd00::fe", "fd00:100::10", IpPart(BuildPacket(reply)), 1000);
  RunResult r = RunXdp(Xdp(), icmp, IfIndex(kClientIf));
  EXPECT_EQ(r.retval, XDP_REDIRECT);
  EXPECT_EQ(Parse(r.out).dst, "fd00:1::2");
  Parsed quoted = ParseQuoted(r.out);
  EXPECT_EQ(quoted.src, "fd00:1::2");
  EXPECT_EQ(quoted.sport, 5432);
  EXPECT_EQ(ChecksumProblems(r.out), "");
}

TEST_F(FastPathTest, IcmpAboutAnUntrackedFlowPasses) {
  PacketSpec reply = Tcp("198.18.100.11", 6000, "198.18.0.77", 41000);
  std::vector<uint8_t> icmp =
      BuildIcmpError("198.18.0.254", "198.18.100.11", IpPart(BuildPacket(reply)), 28);
  RunResult r = RunXdp(Xdp(), icmp);
  EXPECT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(r.out, icmp);
}

TEST_F(FastPathTest, IcmpFromTheBackendSideIsAboutTheGateway) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  // The backend refuses the DNATed packet (client -> backend) with port unreachable.
  PacketSpec dnatted = Tcp("198.18.0.2", 40000, "198.18.1.2", 6000);
  std::vector<uint8_t> icmp =
      BuildIcmpError("198.18.1.2", "198.18.0.2", IpPart(BuildPacket(dnatted)), 28);
  RunResult r = RunTc(TcOut(), icmp);
  EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_OK));
  Parsed outer = Parse(r.out);
  EXPECT_EQ(outer.src, "198.18.100.11");
  EXPECT_EQ(outer.dst, "198.18.0.2");
  Parsed quoted = ParseQuoted(r.out);
  EXPECT_EQ(quoted.dst, "198.18.100.11");
  EXPECT_EQ(quoted.dport, 6000);
  EXPECT_EQ(ChecksumProblems(r.out), "");
}

TEST_F(FastPathTest, IcmpV6FromTheBackendSideIsAboutTheGateway) {
  PacketSpec spec = Udp("fd00::2", 40000, "fd00:100::10", 53);
  ASSERT_EQ(FromClient(spec).retval, XDP_REDIRECT);
  PacketSpec dnatted = Udp("fd00::2", 40000, "fd00:1::2", 5353);
  std::vector<uint8_t> icmp =
      BuildIcmpError("fd00:1::2", "fd00::2", IpPart(BuildPacket(dnatted)), 1000);
  RunResult r = RunTc(TcOut(), icmp);
  EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_OK));
  EXPECT_EQ(Parse(r.out).src, "fd00:100::10");
  Parsed quoted = ParseQuoted(r.out);
  EXPECT_EQ(quoted.dst, "fd00:100::10");
  EXPECT_EQ(quoted.dport, 53);
  EXPECT_EQ(quoted.src, "fd00::2");
  EXPECT_EQ(ChecksumProblems(r.out), "");
}

// A sender with transmit checksum offload (a local stack over a veth) leaves a partial
// checksum; a redirected frame loses that state, so the fast path completes it.
TEST_F(FastPathTest, PartialChecksumsAreCompletedWhenRedirected) {
  for (PacketSpec spec :
       {Tcp("198.18.0.2", 40000, "198.18.100.11", 6000), Udp("fd00::2", 40000, "fd00:100::10", 53),
        Udp("198.18.0.2", 40001, "198.18.100.10", 53)}) {
    for (size_t size : {0, 1, 3, 511, 512, 513, 1401}) {
      spec.payload.assign(size, 'x');
      for (size_t i = 0; i < size; ++i) spec.payload[i] = static_cast<char>(i * 7 + size);
      std::vector<uint8_t> in = BuildPacket(spec);
      MakePartialChecksum(in);
      ASSERT_NE(ChecksumProblems(in), "");
      RunResult r = RunXdp(Xdp(), in, IfIndex(kClientIf));
      ASSERT_EQ(r.retval, XDP_REDIRECT);
      EXPECT_EQ(ChecksumProblems(r.out), "") << spec.dst.addr << " payload " << size;
      EXPECT_EQ(Parse(r.out).payload, spec.payload);
    }
  }
  EXPECT_EQ(PathCount(XG_PATH_PARTIAL_CSUM), 21u);
}

TEST_F(FastPathTest, PartialChecksumsStayPartialWhenPassedToTheStack) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.11", 6000);
  spec.vlan = true;  // forwarded by the stack
  std::vector<uint8_t> in = BuildPacket(spec);
  MakePartialChecksum(in);
  RunResult r = RunXdp(Xdp(), in, IfIndex(kClientIf));
  ASSERT_EQ(r.retval, XDP_PASS);
  EXPECT_EQ(Parse(r.out).dst, "198.18.1.2");
  EXPECT_TRUE(HasPartialChecksum(r.out)) << "the stack finishes it, for the new addresses";
}

// One complete checksum in 65536 equals the pseudo-header sum: such a packet (found here by
// trying payloads) verifies, so it is left alone.
TEST_F(FastPathTest, ACompleteChecksumThatLooksPartialIsLeftAlone) {
  PacketSpec spec = Udp("198.18.0.2", 40001, "198.18.100.10", 53);
  std::vector<uint8_t> in;
  for (int v = 0; v < 65536; ++v) {
    spec.payload = std::string("look-alike") + static_cast<char>(v >> 8) + static_cast<char>(v);
    in = BuildPacket(spec);
    if (HasPartialChecksum(in)) break;
  }
  ASSERT_TRUE(HasPartialChecksum(in));
  ASSERT_EQ(ChecksumProblems(in), "");
  RunResult r = RunXdp(Xdp(), in, IfIndex(kClientIf));
  ASSERT_EQ(r.retval, XDP_REDIRECT);
  EXPECT_EQ(ChecksumProblems(r.out), "");
  EXPECT_EQ(PathCount(XG_PATH_PARTIAL_CSUM), 0u);
}

TEST_F(FastPathTest, RestartAdoptsMapsAndKeepsFlows) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.10", 5432);
  std::string backend = Parse(FromClient(spec).out).dst;
  applier_->Stop(/*detach=*/false);
  applier_.reset();
  auto again = l4::L4Applier::Create({root_, {}});
  ASSERT_TRUE(again.ok()) << again.status();
  applier_ = std::move(*again);
  // Before any snapshot: the pinned state still forwards, the flow on its backend.
  EXPECT_EQ(Parse(FromClient(spec).out).dst, backend);
  ASSERT_TRUE(applier_->Apply(BaseSnapshot()).ok());
  EXPECT_EQ(Parse(FromClient(spec).out).dst, backend);
  EXPECT_EQ(PathCount(XG_PATH_CT_HIT), 2u);
}

// An upgrade that changed a layout (xg_conntrack grew the cached next hop, say): the old pin
// is replaced instead of failing the load, and a new flow to the same backend set is picked
// by Maglev onto the backend it had.
TEST_F(FastPathTest, RestartReplacesAPinnedMapWithAnotherLayout) {
  PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.10", 5432);
  std::string backend = Parse(FromClient(spec).out).dst;
  applier_->Stop(/*detach=*/false);
  applier_.reset();
  std::string ct = maps::PinPath(root_, maps::kConntrack);
  ASSERT_EQ(unlink(ct.c_str()), 0);
  int old_fd =
      bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xg_conntrack", sizeof(xg_flow), 48, 1024, nullptr);
  ASSERT_GE(old_fd, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_obj_pin(old_fd, ct.c_str()), 0) << std::strerror(errno);
  close(old_fd);

  auto again = l4::L4Applier::Create({root_, {}});
  ASSERT_TRUE(again.ok()) << again.status();
  applier_ = std::move(*again);
  ASSERT_TRUE(applier_->Apply(BaseSnapshot()).ok());
  int fd = bpf_obj_get(ct.c_str());
  ASSERT_GE(fd, 0);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  close(fd);
  EXPECT_EQ(info.value_size, sizeof(xg_ct_entry));
  EXPECT_EQ(Parse(FromClient(spec).out).dst, backend);
  EXPECT_EQ(PathCount(XG_PATH_CT_NEW), 2u);  // the old entry went with the old map
}

// An outer Maglev map pinned by a build whose inner tables were not mmapable, holding one such
// table (`with_table`) or none: the restarted agent's tables must still go in.
void PinMaglevOfAnOlderBuild(const std::string& path, bool with_table) {
  ASSERT_EQ(unlink(path.c_str()), 0);
  int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "old_tbl", 4, 4, XG_MAGLEV_SIZE, nullptr);
  ASSERT_GE(inner, 0) << std::strerror(errno);
  LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = static_cast<__u32>(inner));
  int outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xg_maglev", 4, 4, XG_MAX_SERVICES, &opts);
  ASSERT_GE(outer, 0) << std::strerror(errno);
  uint32_t key = 0;
  uint32_t value = static_cast<uint32_t>(inner);
  if (with_table) {
    ASSERT_EQ(bpf_map_update_elem(outer, &key, &value, BPF_ANY), 0);
  }
  ASSERT_EQ(bpf_obj_pin(outer, path.c_str()), 0) << std::strerror(errno);
  close(outer);
  close(inner);
}

TEST_F(FastPathTest, RestartReplacesAMaglevMapOfInnerTablesWithAnotherLayout) {
  for (bool with_table : {true, false}) {
    SCOPED_TRACE(with_table ? "holding an old table" : "empty");
    PacketSpec spec = Tcp("198.18.0.2", 40000, "198.18.100.10", 5432);
    std::string backend = Parse(FromClient(spec).out).dst;
    applier_->Stop(/*detach=*/false);
    applier_.reset();
    PinMaglevOfAnOlderBuild(maps::PinPath(root_, maps::kMaglev), with_table);
    auto again = l4::L4Applier::Create({root_, {}});
    ASSERT_TRUE(again.ok()) << again.status();
    applier_ = std::move(*again);
    absl::Status applied = applier_->Apply(BaseSnapshot());
    ASSERT_TRUE(applied.ok()) << applied;
    EXPECT_EQ(Parse(FromClient(spec).out).dst, backend);
  }
}

TEST_F(FastPathTest, RestartForgetsTablesOfListenersThatLostTheirBackends) {
  applier_->Stop(/*detach=*/false);
  applier_.reset();
  auto again = l4::L4Applier::Create({root_, {}});
  ASSERT_TRUE(again.ok()) << again.status();
  applier_ = std::move(*again);
  Snapshot s = BaseSnapshot();
  s.l4[2].backends.clear();  // 198.18.100.11:6000 keeps its listener, loses its backend
  ASSERT_TRUE(applier_->Apply(s).ok());
  RunResult r = FromClient(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  EXPECT_EQ(r.retval, XDP_DROP);
  EXPECT_EQ(DropCount(XG_DROP_NO_BACKEND), 1u);
}

TEST_F(FastPathTest, PinRootOffBpffsIsRefused) {
  auto other = l4::L4Applier::Create({"/tmp/xgate-not-bpffs-" + std::to_string(getpid()), {}});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not on a bpffs"), std::string::npos) << other.status();
}

TEST_F(FastPathTest, ListenerChurnKeepsEachListenerOnItsOwnBackends) {
  // One snapshot replaces the :6000 listener by one on another address with another
  // backend: the old address stops, the new one forwards to its own backend.
  Snapshot s = BaseSnapshot();
  s.l4[2].address = "198.18.100.14";
  s.l4[2].backends[0].address = "198.18.1.3";
  ASSERT_TRUE(applier_->Apply(s).ok());
  RunResult gone = FromClient(Tcp("198.18.0.2", 40000, "198.18.100.11", 6000));
  EXPECT_EQ(gone.retval, XDP_PASS);
  RunResult moved = FromClient(Tcp("198.18.0.2", 40000, "198.18.100.14", 6000));
  EXPECT_EQ(moved.retval, XDP_REDIRECT);
  EXPECT_EQ(Parse(moved.out).dst, "198.18.1.3");
}

// Many random flows (seeded, so every run is the same): listener traffic always lands on
// one of its backends with every checksum right; anything else passes untouched; mangled
// and cut packets never make a program fail.
TEST_F(FastPathTest, RandomTrafficKeepsItsInvariants) {
  struct Dest {
    std::string addr;
    uint16_t port;
    uint8_t proto;
    std::set<std::string> backends;  // empty: not an L4 listener with backends
    uint16_t backend_port;
  };
  const std::vector<Dest> dests = {
      {"198.18.100.10", 5432, IPPROTO_TCP, {"198.18.1.2", "198.18.1.3"}, 5432},
      {"198.18.100.10", 53, IPPROTO_UDP, {"198.18.1.2"}, 5353},
      {"198.18.100.11", 6000, IPPROTO_TCP, {"198.18.1.2"}, 6000},
      {"fd00:100::10", 5432, IPPROTO_TCP, {"fd00:1::2"}, 5432},
      {"fd00:100::10", 53, IPPROTO_UDP, {"fd00:1::2"}, 5353},
      {"198.18.100.10", 9999, IPPROTO_TCP, {}, 0},
      {"198.18.100.99", 5432, IPPROTO_TCP, {}, 0},
      {"fd00:100::10", 5432, IPPROTO_UDP, {}, 0},
      {"198.18.100.1", 80, IPPROTO_TCP, {}, 0},  // punt
  };
  std::mt19937 rng(20261128);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto random_spec = [&](const Dest& d) {
    bool v6 = d.addr.find(':') != std::string::npos;
    PacketSpec spec;
    spec.src.addr = v6 ? "fd00::" + std::to_string(uniform(2, 9999))
                       : "198.18.0." + std::to_string(uniform(2, 250));
    spec.src.port = static_cast<uint16_t>(uniform(1024, 65535));
    spec.dst = {d.addr, d.port};
    spec.proto = d.proto;
    spec.vlan = uniform(0, 9) == 0;
    spec.payload.resize(uniform(0, 200));
    for (char& c : spec.payload) c = static_cast<char>(uniform(0, 255));
    return spec;
  };

  for (int i = 0; i < 1500; ++i) {
    const Dest& d = dests[uniform(0, dests.size() - 1)];
    PacketSpec spec = random_spec(d);
    std::vector<uint8_t> in = BuildPacket(spec);
    RunResult r = RunXdp(Xdp(), in, IfIndex(kClientIf));
    ASSERT_EQ(r.err, 0);
    if (d.backends.empty()) {
      ASSERT_EQ(r.retval, XDP_PASS) << "packet " << i;
      ASSERT_EQ(r.out, in) << "packet " << i;
      continue;
    }
    ASSERT_EQ(r.retval, spec.vlan ? XDP_PASS : XDP_REDIRECT) << "packet " << i;
    Parsed p = Parse(r.out);
    ASSERT_TRUE(d.backends.count(p.dst)) << p.dst << ", packet " << i;
    ASSERT_EQ(p.dport, d.backend_port);
    ASSERT_EQ(p.src, spec.src.addr);
    ASSERT_EQ(p.sport, spec.src.port);
    ASSERT_EQ(p.payload, spec.payload);
    ASSERT_EQ(ChecksumProblems(r.out), "") << "packet " << i;
  }

  for (int i = 0; i < 1500; ++i) {
    std::vector<uint8_t> frame = BuildPacket(random_spec(dests[uniform(0, dests.size() - 1)]));
    if (uniform(0, 3) == 0) {
      frame.resize(uniform(1, frame.size()));
    } else {
      for (int flips = uniform(1, 4); flips > 0; --flips) {
        frame[uniform(0, std::min<int>(frame.size(), 80) - 1)] ^= uniform(1, 255);
      }
    }
    if (frame.size() < 14) frame.resize(14);  // the kernel wants an Ethernet header
    RunResult x = RunXdp(Xdp(), frame, IfIndex(kClientIf));
    ASSERT_EQ(x.err, 0) << "mangled packet " << i;
    ASSERT_TRUE(x.retval == XDP_PASS || x.retval == XDP_DROP || x.retval == XDP_TX ||
                x.retval == XDP_REDIRECT)
        << x.retval;
    RunResult t = RunTc(TcOut(), frame);
    // The test harness itself refuses an skb whose IP header is cut short.
    if (t.err == EINVAL && frame.size() < 14 + 40) continue;
    ASSERT_EQ(t.err, 0) << "mangled packet " << i;
    ASSERT_TRUE(t.retval == TC_ACT_OK || t.retval == TC_ACT_SHOT) << t.retval;
  }
}

}  // namespace
}  // namespace xgate::testing
