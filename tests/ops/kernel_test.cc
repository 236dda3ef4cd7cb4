// explain packet, conntrack and counters against real pinned maps (root): the seed's L4
// listener applied by the L4 applier under its own pin root, crafted packets run through the
// XDP program with BPF_PROG_TEST_RUN, then read back through the admin API and xgatectl.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/admin/metrics.h"
#include "agent/admin/server.h"
#include "agent/inspect/explain_packet.h"
#include "agent/inspect/l4_maps.h"
#include "agent/l4/l4_applier.h"
#include "tests/agent/prometheus_text.h"
#include "tests/bpf/bpf_env.h"
#include "tests/bpf/packet.h"
#include "tests/ops/seed_state.h"

namespace xgate {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kFlows = 40;

api::PacketProbe Probe(uint32_t sport) {
  api::PacketProbe p;
  p.set_src_address("198.18.0.2");
  p.set_src_port(sport);
  p.set_dst_address("198.18.100.10");
  p.set_dst_port(5432);
  p.set_protocol("tcp");
  return p;
}

class KernelOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = testing::EnterBpfTestEnvironment();
    if (!why.empty()) {
      if (testing::PrivilegeRequired()) FAIL() << why << " (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << why;
    }
    ASSERT_TRUE(seed_.reload_status().ok()) << seed_.reload_status();
    root_ = "/sys/fs/bpf/xgate-ops-" + std::to_string(getpid());
    auto applier = l4::L4Applier::Create({root_, {}});
    ASSERT_TRUE(applier.ok()) << applier.status();
    applier_ = std::move(*applier);
    ASSERT_TRUE(applier_->Apply(seed_.snapshot()).ok());
    auto maps = inspect::L4Maps::Open(root_);
    ASSERT_TRUE(maps.ok()) << maps.status();
    maps_ = std::move(*maps);
  }
  void TearDown() override {
    maps_.reset();
    if (applier_) applier_->Stop(/*detach=*/true);
    applier_.reset();
    if (!root_.empty()) {
      EXPECT_FALSE(std::filesystem::exists(root_));
    }
  }

  // Runs one client packet of flow `sport` through XDP; returns the destination it left with.
  std::string Send(uint16_t sport) {
    testing::PacketSpec spec;
    spec.src = {"198.18.0.2", sport};
    spec.dst = {"198.18.100.10", 5432};
    spec.proto = IPPROTO_TCP;
    testing::RunResult r =
        testing::RunXdp(applier_->datapath().XdpProgFd(), testing::BuildPacket(spec),
                        testing::IfIndex(testing::kClientIf));
    EXPECT_EQ(r.err, 0);
    testing::Parsed p = testing::Parse(r.out);
    EXPECT_TRUE(p.ok);
    return p.dst;
  }

  testing::SeedState seed_;
  std::string root_;
  std::unique_ptr<l4::L4Applier> applier_;
  std::unique_ptr<inspect::L4Maps> maps_;
};

TEST_F(KernelOpsTest, ExplainNamesTheBackendTheProgramPicksThenTheConntrackPin) {
  for (int i = 0; i < kFlows; ++i) {
    uint16_t sport = static_cast<uint16_t>(30000 + i);
    auto before = inspect::ExplainPacket(seed_.snapshot(), Probe(sport), maps_.get());
    ASSERT_TRUE(before.ok()) << before.status();
    EXPECT_EQ(before->source(), "kernel");
    EXPECT_EQ(before->outcome(), "forward");
    EXPECT_FALSE(before->has_conntrack());
    // The table computed from the snapshot names the same backend as the kernel's.
    auto computed = inspect::ExplainPacket(seed_.snapshot(), Probe(sport), nullptr);
    ASSERT_TRUE(computed.ok());
    EXPECT_EQ(computed->slot_backend().address(), before->slot_backend().address()) << sport;

    EXPECT_EQ(Send(sport), before->backend().address()) << "flow " << sport;

    auto after = inspect::ExplainPacket(seed_.snapshot(), Probe(sport), maps_.get());
    ASSERT_TRUE(after.ok());
    ASSERT_TRUE(after->has_conntrack());
    EXPECT_TRUE(after->pinned());
    EXPECT_FALSE(after->conntrack().stale());
    EXPECT_EQ(after->conntrack().backend_address(), before->backend().address());
    EXPECT_EQ(after->conntrack().listener(), "default/edge/pg");
    EXPECT_EQ(after->backend().address(), before->backend().address());
  }
}

TEST_F(KernelOpsTest, ConntrackPagesAndCountersSumTheTraffic) {
  std::map<uint16_t, std::string> sent;
  for (int i = 0; i < kFlows; ++i) {
    uint16_t sport = static_cast<uint16_t>(31000 + i);
    sent[sport] = Send(sport);
  }
  std::set<uint32_t> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = inspect::ReadConntrack(*maps_, &seed_.snapshot(), 7, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->entries_size(), 7);
    for (const auto& e : page->entries()) {
      EXPECT_TRUE(seen.insert(e.src_port()).second) << "listed twice: " << e.src_port();
      EXPECT_EQ(e.dst_address(), "198.18.100.10");
      EXPECT_EQ(e.protocol(), "tcp");
      EXPECT_EQ(e.backend_address(), sent[e.src_port()]);
      EXPECT_FALSE(e.stale());
    }
    token = page->next_page_token();
    ASSERT_LT(++pages, 100);
  } while (!token.empty());
  EXPECT_EQ(seen.size(), sent.size());
  EXPECT_EQ(pages, (kFlows + 6) / 7);
  EXPECT_FALSE(inspect::ReadConntrack(*maps_, nullptr, 7, "zz").ok());

  auto counters = inspect::ReadCounters(*maps_, &seed_.snapshot());
  ASSERT_TRUE(counters.ok()) << counters.status();
  bool pg = false;
  for (const auto& l : counters->listeners()) {
    if (l.port() == 5432 && l.protocol() == "tcp") {
      pg = true;
      EXPECT_EQ(l.kind(), "l4");
      EXPECT_EQ(l.listener(), "default/edge/pg");
      EXPECT_EQ(l.packets(), uint64_t{kFlows});
    }
  }
  EXPECT_TRUE(pg);
  bool punt = false;
  for (const auto& l : counters->listeners()) {
    if (l.kind() == "punt") {
      punt = true;
      EXPECT_EQ(l.listener(), "default/prod-web/https");
      EXPECT_EQ(l.port(), 443u);
    }
  }
  EXPECT_TRUE(punt);
  std::map<std::string, uint64_t> per_backend, expected;
  for (const auto& [sport, dst] : sent) ++expected[dst];
  for (const auto& b : counters->backends()) {
    if (b.packets() > 0) per_backend[b.address()] += b.packets();
    if (b.address() == "198.18.3.11") {
      EXPECT_EQ(b.service(), "default/pg-primary");
    }
  }
  EXPECT_EQ(per_backend, expected);
  for (const auto& p : counters->paths()) {
    if (p.name() == "conntrack_new") {
      EXPECT_EQ(p.packets(), uint64_t{kFlows});
    }
  }
  EXPECT_EQ(counters->drops_size(), XG_DROP_MAX);
}

TEST_F(KernelOpsTest, MetricsCountThePacketsSentPerListenerAndBackend) {
  std::map<std::string, uint64_t> expected;  // backend address -> packets sent to it
  std::string first;
  for (int i = 0; i < kFlows; ++i) {
    std::string dst = Send(static_cast<uint16_t>(33000 + i));
    if (i == 0) first = dst;
    ++expected[dst];
  }
  for (int i = 0; i < 5; ++i) {  // the first flow again: conntrack hits, same backend
    EXPECT_EQ(Send(33000), first);
    ++expected[first];
  }
  const compiler::L4Listener* pg = nullptr;
  for (const auto& l : seed_.snapshot().l4) {
    if (l.port == 5432) pg = &l;
  }
  ASSERT_NE(pg, nullptr);

  // Served as xgate-agent --attach --metrics-addr serves it.
  auto server = admin::MetricsServer::Start(
      "127.0.0.1:0", [&] { return admin::RenderAgentMetrics(seed_.pipeline(), root_); });
  ASSERT_TRUE(server.ok()) << server.status();
  std::string rendered = testing::ScrapeLoopback((*server)->port());
  testing::PromText text = testing::ParsePromText(rendered);
  ASSERT_EQ(text.error, "") << rendered;
  EXPECT_EQ(text.Sum("xgate_fastpath_maps_readable"), 1);
  const std::string listener = "198.18.100.10:5432/tcp";
  EXPECT_EQ(text.Sum("xgate_fastpath_listener_packets_total", {{"listener", listener},
                                                               {"kind", "l4"},
                                                               {"gateway", "default/edge/pg"},
                                                               {"route", pg->route}}),
            kFlows + 5)
      << rendered;
  EXPECT_GE(*text.Sum("xgate_fastpath_listener_bytes_total", {{"listener", listener}}),
            (kFlows + 5) * 40.0);  // at least the IPv4 and TCP headers
  std::map<std::string, uint64_t> per_backend;
  for (const auto& s : text.samples) {
    if (s.name != "xgate_fastpath_backend_packets_total" || s.value == 0) continue;
    EXPECT_EQ(s.labels.at("listener"), listener);
    const std::string& backend = s.labels.at("backend");  // "address:port"
    per_backend[backend.substr(0, backend.rfind(':'))] += static_cast<uint64_t>(s.value);
  }
  EXPECT_EQ(per_backend, expected) << rendered;
  EXPECT_EQ(text.Sum("xgate_fastpath_path_packets_total", {{"path", "conntrack_new"}}), kFlows);
  EXPECT_EQ(text.Sum("xgate_fastpath_path_packets_total", {{"path", "conntrack_hit"}}), 5);
  EXPECT_EQ(text.Sum("xgate_fastpath_drops_total"), 0);
  EXPECT_EQ(text.types["xgate_fastpath_drops_total"], "counter");
}

TEST_F(KernelOpsTest, XgatectlReadsThePinnedMapsThroughTheAgent) {
  for (int i = 0; i < 3; ++i) Send(static_cast<uint16_t>(32000 + i));
  std::string socket = (seed_.tmp() / "run" / "admin.sock").string();
  admin::AdminOptions options;
  options.l4_pin_root = root_;
  auto server = admin::AdminServer::Start(socket, seed_.pipeline(), options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto ctl = [&](const std::string& args, int* code) {
    auto out = seed_.tmp() / "ctl.out";
    std::string cmd =
        std::string(XGATECTL_PATH) + " --socket " + socket + " " + args + " >" + out.string();
    int status = std::system(cmd.c_str());
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return fixtures::ReadFile(out);
  };
  int code = -1;
  std::string out = ctl("get conntrack", &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("198.18.0.2:32001"));
  EXPECT_THAT(out, HasSubstr("default/edge/pg"));
  out = ctl("get conntrack --limit 2 -o json", &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(json::parse(out)["entries"].size(), 2u);
  out = ctl("get counters -o json", &code);
  EXPECT_EQ(code, 0);
  json counters = json::parse(out);
  EXPECT_FALSE(counters["listeners"].empty());
  out = ctl("get counters", &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("conntrack_new"));
  out = ctl("explain packet --src 198.18.0.2:32000 --dst 198.18.100.10:5432 --proto tcp", &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("(from the kernel)"));
  EXPECT_THAT(out, HasSubstr("(pins the flow)"));
}

}  // namespace
}  // namespace xgate
