// libFuzzer target for the fast path's XDP program (bpf/xgate.bpf.c): each input is one
// Ethernet frame, run with BPF_PROG_TEST_RUN as received on the client interface of the BPF
// test environment (tests/bpf: root, private namespaces, veths), with the program loaded by
// the L4 applier as the agent loads it and its maps filled (v4 and v6 TCP/UDP listeners with
// backends, one with none, an L7 punt). Checked (abort on violation):
//  - the test run succeeds and the verdict is XDP_DROP, XDP_PASS, XDP_TX or XDP_REDIRECT;
//  - a frame sent on (TX/REDIRECT) whose checksums were right still has right checksums.
// BPF code has no coverage instrumentation: the path and drop counters the program keeps
// (xg_path_stats, xg_drop_stats) and the verdict are given to libFuzzer as extra counters, so
// an input that takes a new path through the program is kept.
#include "tests/fuzz/xdp_fuzz.h"

#include <linux/bpf.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "agent/compiler/snapshot.h"
#include "agent/l4/l4_applier.h"
#include "maps/counters.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/bpf/bpf_env.h"
#include "tests/bpf/l4_listener.h"
#include "tests/bpf/packet.h"

constexpr uint32_t kPaths = XG_PATH_MAX;
constexpr uint32_t kDrops = XG_DROP_MAX;
constexpr uint32_t kFeatures = kPaths + kDrops;

#if defined(__clang__)
// Read by libFuzzer as coverage (one byte per feature).
__attribute__((used, section("__libfuzzer_extra_counters")))
#endif
static uint8_t bpf_features[5][kFeatures];

namespace xgate::testing {
namespace {

compiler::Snapshot FuzzSnapshot() {
  compiler::Snapshot s;
  s.generation = 1;
  s.l4.push_back(L4ListenerOf(
      "198.18.100.10", 5432, IPPROTO_TCP,
      {{"198.18.1.2", 5432, 600000, "default/db"}, {"198.18.1.3", 5432, 400000, "default/db"}}));
  s.l4.push_back(L4ListenerOf("198.18.100.10", 53, IPPROTO_UDP,
                              {{"198.18.1.2", 5353, 1000000, "default/dns"}}));
  s.l4.push_back(L4ListenerOf("198.18.100.12", 7000, IPPROTO_TCP, {}));
  s.l4.push_back(L4ListenerOf("fd00:100::10", 5432, IPPROTO_TCP,
                              {{"fd00:1::2", 5432, 1000000, "default/db6"}}));
  s.l4.push_back(L4ListenerOf("fd00:100::10", 53, IPPROTO_UDP,
                              {{"fd00:1::2", 5353, 1000000, "default/dns6"}}));
  s.punt.push_back({"198.18.100.1", 80});
  return s;
}

struct Fixture {
  std::string error;
  std::unique_ptr<l4::L4Applier> applier;
  std::array<maps::TrafficCounters, 2> counters;  // path, drop
  int client_if = 0;
};

Fixture& TheFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    f->error = EnterBpfTestEnvironment();
    if (!f->error.empty()) return f;
    std::string root = "/sys/fs/bpf/xgate-fuzz";  // in the environment's private bpffs
    auto applier = l4::L4Applier::Create({root, {}});
    if (!applier.ok()) {
      f->error = applier.status().ToString();
      return f;
    }
    f->applier = std::move(*applier);
    if (absl::Status s = f->applier->Apply(FuzzSnapshot()); !s.ok()) {
      f->error = s.ToString();
      return f;
    }
    for (auto [i, name] : {std::pair{0, maps::kPathStats}, std::pair{1, maps::kDropStats}}) {
      auto c = maps::TrafficCounters::OpenPinned(maps::PinPath(root, name));
      if (!c.ok()) {
        f->error = c.status().ToString();
        return f;
      }
      f->counters[i] = std::move(*c);
    }
    f->client_if = IfIndex(kClientIf);
    return f;
  }();
  return *fixture;
}

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "xdp_fuzz: %s\n", what);
  std::abort();
}

// Feature i: path counter i, then drop counter i - kPaths.
uint64_t Count(const Fixture& f, uint32_t i) {
  auto t = i < kPaths ? f.counters[0].Read(i) : f.counters[1].Read(i - kPaths);
  Check(t.ok(), "reading a counter failed");
  return t->packets;
}

}  // namespace

std::string XdpFuzzSetUp() { return TheFixture().error; }

size_t XdpFuzzFeaturesSeen() {
  size_t seen = 0;
  for (const auto& verdict : bpf_features) {
    for (uint8_t hits : verdict) seen += hits != 0;
  }
  return seen;
}

}  // namespace xgate::testing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xgate::testing;
  Fixture& f = TheFixture();
  Check(f.error.empty(), f.error.c_str());
  if (size < 14 || size > 1514) return 0;  // the kernel takes Ethernet frames only
  std::vector<uint8_t> frame(data, data + size);

  std::array<uint64_t, kFeatures> before{};
  for (uint32_t i = 0; i < kFeatures; ++i) before[i] = Count(f, i);

  RunResult r = RunXdp(f.applier->datapath().XdpProgFd(), frame, f.client_if);
  Check(r.err == 0, "BPF_PROG_TEST_RUN failed");
  Check(r.retval == XDP_DROP || r.retval == XDP_PASS || r.retval == XDP_TX ||
            r.retval == XDP_REDIRECT,
        "not an XDP verdict the program may give");
  if ((r.retval == XDP_TX || r.retval == XDP_REDIRECT) && ChecksumProblems(frame).empty()) {
    Check(ChecksumProblems(r.out).empty(), "a frame sent on has a wrong checksum");
  }

  for (uint32_t i = 0; i < kFeatures; ++i) {
    if (Count(f, i) != before[i]) bpf_features[r.retval][i]++;
  }
  return 0;
}
