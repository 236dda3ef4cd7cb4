// L4Applier's draining of removed backends against real pinned maps (no traffic: the
// connection table's entries are written here as the XDP program would write them).
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "agent/compiler/snapshot.h"
#include "agent/l4/l4_applier.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/e2e_agent_l4/topology.h"

namespace xgate::l4 {
namespace {

using namespace std::chrono_literals;

constexpr auto kDrainIdle = 2s;

compiler::Snapshot Snapshot(uint64_t generation, std::vector<std::string> backends,
                            bool with_listener = true) {
  compiler::Snapshot s;
  s.generation = generation;
  compiler::L4Listener l;
  l.gateway = "default/edge";
  l.listener = "pg";
  l.address = "198.18.100.10";
  l.port = 5432;
  l.protocol = IPPROTO_TCP;
  for (const std::string& b : backends) {
    l.backends.push_back({b, 5432, static_cast<uint32_t>(1000000 / backends.size()), "default/pg"});
  }
  if (with_listener) s.l4.push_back(l);
  // Another listener, so the listener set is never empty.
  compiler::L4Listener other = l;
  other.port = 6000;
  other.backends = {{"198.18.3.99", 6000, 1000000, "default/other"}};
  s.l4.push_back(other);
  return s;
}

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

class ApplierDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = geteuid() != 0 ? "needs root (BPF maps)" : e2e::PrivateBpffs();
    if (!why.empty()) {
      const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
      if (req && std::string(req) == "1") FAIL() << why;
      GTEST_SKIP() << why;
    }
    static int serial = 0;
    root_ = "/sys/fs/bpf/xgate-drain-" + std::to_string(getpid()) + "-" + std::to_string(++serial);
    ASSERT_NO_FATAL_FAILURE(Open());
    auto backends = maps::BackendMap::OpenPinned(maps::PinPath(root_, maps::kBackends));
    ASSERT_TRUE(backends.ok()) << backends.status();
    backends_ = std::move(*backends);
    auto ct = maps::ConntrackMap::OpenPinned(maps::PinPath(root_, maps::kConntrack));
    ASSERT_TRUE(ct.ok()) << ct.status();
    conntrack_ = std::move(*ct);
  }
  void TearDown() override {
    if (applier_) applier_->Stop(/*detach=*/true);
    applier_.reset();
    if (!root_.empty()) {
      std::error_code ec;
      EXPECT_FALSE(std::filesystem::exists(root_, ec)) << "pins left behind";
    }
  }

  void Open() {
    L4ApplierOptions options;
    options.pin_root = root_;
    options.drain_idle = kDrainIdle;
    auto applier = L4Applier::Create(options);
    ASSERT_TRUE(applier.ok()) << applier.status();
    applier_ = std::move(*applier);
  }

  // The id of the valid backend with this address, if any.
  std::optional<uint32_t> IdOf(const std::string& address) {
    uint8_t addr[16];
    uint8_t family = 0;
    EXPECT_TRUE(maps::ParseAddress(address, addr, &family).ok());
    for (uint32_t id = 0; id < XG_MAX_BACKENDS; ++id) {
      auto b = backends_.Lookup(id);
      if (b.ok() && *b && ((*b)->flags & XG_BACKEND_VALID) &&
          std::memcmp((*b)->addr, addr, 16) == 0) {
        return id;
      }
    }
    return std::nullopt;
  }

  // Every backend id the Maglev table of the 5432 listener hands out.
  std::set<uint32_t> TableIds() {
    auto listeners = maps::ListenerMap::OpenPinned(maps::PinPath(root_, maps::kListeners));
    auto outer = maps::MaglevOuterMap::OpenPinned(maps::PinPath(root_, maps::kMaglev));
    EXPECT_TRUE(listeners.ok() && outer.ok());
    std::set<uint32_t> ids;
    if (!listeners.ok() || !outer.ok()) return ids;
    auto entries = listeners->Entries();
    EXPECT_TRUE(entries.ok());
    for (const auto& [key, value] : *entries) {
      if (key.port != 5432) continue;
      auto inner_id = outer->Lookup(value.service_id);
      EXPECT_TRUE(inner_id.ok() && *inner_id);
      if (!inner_id.ok() || !*inner_id) return ids;
      int fd = bpf_map_get_fd_by_id(**inner_id);
      EXPECT_GE(fd, 0);
      for (uint32_t slot = 0; fd >= 0 && slot < XG_MAGLEV_SIZE; ++slot) {
        uint32_t id = 0;
        if (bpf_map_lookup_elem(fd, &slot, &id) == 0) ids.insert(id);
      }
      if (fd >= 0) close(fd);
    }
    return ids;
  }

  // A tracked flow to `backend_id` (as XDP records it), last seen `ago` before now.
  void Track(uint32_t backend_id, const std::string& backend, uint16_t sport,
             std::chrono::nanoseconds ago) {
    xg_flow f{};
    uint8_t family = 0;
    ASSERT_TRUE(maps::ParseAddress("198.18.0.2", f.src, &family).ok());
    ASSERT_TRUE(maps::ParseAddress("198.18.100.10", f.dst, &family).ok());
    f.sport = sport;
    f.dport = 5432;
    f.proto = IPPROTO_TCP;
    xg_ct_entry ct{};
    ASSERT_TRUE(maps::ParseAddress(backend, ct.backend_addr, &ct.family).ok());
    ct.backend_port = 5432;
    ct.backend_id = backend_id;
    ct.created_ns = ct.last_seen_ns = MonotonicNs() - static_cast<uint64_t>(ago.count());
    ASSERT_TRUE(conntrack_.Update(f, ct).ok());
  }

  std::string root_;
  std::unique_ptr<L4Applier> applier_;
  maps::BackendMap backends_;
  maps::ConntrackMap conntrack_;
};

TEST_F(ApplierDrainTest, RemovedBackendWithALiveFlowDrainsUntilTheFlowIdles) {
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.11", "198.18.3.12"})).ok());
  std::optional<uint32_t> gone = IdOf("198.18.3.11");
  ASSERT_TRUE(gone.has_value());
  ASSERT_TRUE(TableIds().count(*gone));
  ASSERT_NO_FATAL_FAILURE(Track(*gone, "198.18.3.11", 40000, 0s));

  // Removed, and a new backend added in the same change: .11 keeps its id and entry (its
  // flow still reaches it), the table no longer names it, the newcomer gets another id.
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.12", "198.18.3.13"})).ok());
  EXPECT_EQ(IdOf("198.18.3.11"), gone) << "a backend with a live flow was freed";
  std::optional<uint32_t> added = IdOf("198.18.3.13");
  ASSERT_TRUE(added.has_value());
  EXPECT_NE(*added, *gone);
  std::set<uint32_t> table = TableIds();
  EXPECT_FALSE(table.count(*gone)) << "a draining backend still gets new flows";
  EXPECT_TRUE(table.count(*added));

  // The flow idles past drain_idle: the next change frees the id.
  ASSERT_NO_FATAL_FAILURE(Track(*gone, "198.18.3.11", 40000, kDrainIdle + 1s));
  ASSERT_TRUE(applier_->Apply(Snapshot(3, {"198.18.3.12"})).ok());
  EXPECT_FALSE(IdOf("198.18.3.11").has_value()) << "an idle draining backend was kept";
}

TEST_F(ApplierDrainTest, RemovedBackendWithoutLiveFlowsIsFreedAtOnce) {
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.11", "198.18.3.12"})).ok());
  std::optional<uint32_t> gone = IdOf("198.18.3.11");
  ASSERT_TRUE(gone.has_value());
  ASSERT_NO_FATAL_FAILURE(Track(*gone, "198.18.3.11", 40000, kDrainIdle + 1s));
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.12"})).ok());
  EXPECT_FALSE(IdOf("198.18.3.11").has_value());
}

TEST_F(ApplierDrainTest, BackendsOfARemovedListenerAreFreedEvenWithLiveFlows) {
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.11"})).ok());
  std::optional<uint32_t> id = IdOf("198.18.3.11");
  ASSERT_TRUE(id.has_value());
  ASSERT_NO_FATAL_FAILURE(Track(*id, "198.18.3.11", 40000, 0s));
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.11"}, /*with_listener=*/false)).ok());
  EXPECT_FALSE(IdOf("198.18.3.11").has_value());
}

TEST_F(ApplierDrainTest, ReaddedWhileDrainingKeepsItsIdAndTakesNewFlowsAgain) {
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.11", "198.18.3.12"})).ok());
  std::optional<uint32_t> id = IdOf("198.18.3.11");
  ASSERT_TRUE(id.has_value());
  ASSERT_NO_FATAL_FAILURE(Track(*id, "198.18.3.11", 40000, 0s));
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.12"})).ok());
  ASSERT_FALSE(TableIds().count(*id));
  ASSERT_TRUE(applier_->Apply(Snapshot(3, {"198.18.3.11", "198.18.3.12"})).ok());
  EXPECT_EQ(IdOf("198.18.3.11"), id) << "a tracked flow would have lost its backend";
  EXPECT_TRUE(TableIds().count(*id));
}

TEST_F(ApplierDrainTest, ARestartedApplierKeepsDrainingAndFreesLater) {
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.11", "198.18.3.12"})).ok());
  std::optional<uint32_t> gone = IdOf("198.18.3.11");
  ASSERT_TRUE(gone.has_value());
  ASSERT_NO_FATAL_FAILURE(Track(*gone, "198.18.3.11", 40000, 0s));
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.12"})).ok());

  applier_->Stop(/*detach=*/false);
  applier_.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_TRUE(applier_->Apply(Snapshot(1, {"198.18.3.12"})).ok());
  EXPECT_EQ(IdOf("198.18.3.11"), gone) << "the restart freed a backend with a live flow";
  EXPECT_FALSE(TableIds().count(*gone));

  ASSERT_NO_FATAL_FAILURE(Track(*gone, "198.18.3.11", 40000, kDrainIdle + 1s));
  ASSERT_TRUE(applier_->Apply(Snapshot(2, {"198.18.3.12"})).ok());
  EXPECT_FALSE(IdOf("198.18.3.11").has_value());
}

}  // namespace
}  // namespace xgate::l4
