// The real xgate-agent on ../shared/examples/l4 (TCPRoute pg, 80/20 over pg-primary and
// pg-replica on 5432) in network namespaces (see topology.h):
// - SIGKILL (or SIGTERM) the agent under an open TCP connection, restart it on the same pin
//   root: the connection keeps working on its backend throughout, new ones split 80/20;
// - an endpoint leaves its EndpointSlice (deleted, or ready: false): no new connection
//   reaches it, the one already open keeps talking to it until it closes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "maps/names.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/e2e_agent_l4/agent_process.h"
#include "tests/e2e_agent_l4/topology.h"

namespace xgate::e2e {
namespace {

namespace fs = std::filesystem;

constexpr char kGatewayV4[] = "198.18.100.10";
constexpr char kGatewayV6[] = "fd00:100::10";

const Pod kPrimary0{"pg-primary-0", "198.18.3.11", "fd00:3::11"};
const Pod kPrimary1{"pg-primary-1", "198.18.3.12", "fd00:3::12"};
const Pod kReplica0{"pg-replica-0", "198.18.3.21", "fd00:3::21"};

bool PrivilegeRequired() {
  const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  return req && std::string(req) == "1";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the one occurrence of `from` in `text`; false when there is not exactly one.
bool ReplaceOnce(std::string& text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) return false;
  text.replace(at, from.size(), to);
  return true;
}

std::string EndpointSliceV6(const std::string& service, const std::vector<std::string>& addrs) {
  std::string out =
      "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + service +
      "-v6\n  namespace: default\n  labels: {kubernetes.io/service-name: " + service +
      "}\naddressType: IPv6\nports: [{port: 5432, protocol: TCP}]\nendpoints:\n";
  for (const std::string& a : addrs) out += "- addresses: [\"" + a + "\"]\n";
  return out;
}

// "<pod> <client address> <message>" -> pod.
std::string PodOf(const std::string& reply) { return reply.substr(0, reply.find(' ')); }

class AgentL4Test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = geteuid() != 0 ? "needs root (network namespaces, XDP)" : PrivateBpffs();
    if (!why.empty()) {
      if (PrivilegeRequired()) FAIL() << why;
      GTEST_SKIP() << why;
    }
  }

  void TearDown() override {
    if (HasFailure() || std::getenv("XGATE_E2E_AGENT_LOGS")) {
      for (int i = 1; i <= agents_started_; ++i) {
        fs::path log = work_ / ("agent-" + std::to_string(i) + ".log");
        std::printf("---- %s ----\n%s\n", log.c_str(), ReadFile(log).c_str());
      }
      PrintFastPathCounters();
    }
    agent_.reset();
    // Back to the namespace the test started in before the client's goes away.
    if (home_ns_ >= 0) {
      setns(home_ns_, 0);
      close(home_ns_);
    }
    if (topology_) {
      topology_->Remove();
      EXPECT_TRUE(topology_->AllRemoved()) << "network namespaces left behind";
      topology_.reset();
    }
    std::error_code ec;
    if (!pin_root_.empty()) {
      fs::remove_all(pin_root_, ec);
      EXPECT_FALSE(fs::exists(pin_root_, ec)) << "pins left behind";
    }
    if (!work_.empty()) fs::remove_all(work_, ec);
  }

  // The fast path's per-path and per-drop-reason packet counts, for a failure's report.
  void PrintFastPathCounters() const {
    auto print = [&](std::string_view map, uint32_t count, auto name) {
      auto counters = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, map));
      if (!counters.ok()) return;
      for (uint32_t i = 0; i < count; ++i) {
        auto t = counters->Read(i);
        if (t.ok() && t->packets) {
          std::printf("%s %s: %llu packets\n", std::string(map).c_str(),
                      std::string(name(i)).c_str(), static_cast<unsigned long long>(t->packets));
        }
      }
    };
    print(maps::kPathStats, XG_PATH_MAX, maps::PathName);
    print(maps::kDropStats, XG_DROP_MAX, maps::DropName);
  }

  // The l4 example plus: the GatewayClass it names, an IPv6 Gateway address, and the pods'
  // IPv6 addresses in IPv6 EndpointSlices. `second_primary` adds pg-primary-1 to pg-primary.
  static std::string Manifest(bool second_primary, std::string* why) {
    std::string text = ReadFile(fs::path(XGATE_SHARED_DIR) / "examples/l4/l4.yaml");
    if (!ReplaceOnce(text, "    value: 198.18.100.10\n",
                     "    value: 198.18.100.10\n  - type: IPAddress\n    value: fd00:100::10\n")) {
      *why = "examples/l4/l4.yaml: no Gateway address 198.18.100.10";
      return "";
    }
    std::vector<std::string> primary_v6 = {kPrimary0.v6};
    if (second_primary) {
      if (!ReplaceOnce(text, "- addresses: [198.18.3.11]\n",
                       "- addresses: [198.18.3.11]\n- addresses: [198.18.3.12]\n")) {
        *why = "examples/l4/l4.yaml: no endpoint 198.18.3.11";
        return "";
      }
      primary_v6.push_back(kPrimary1.v6);
    }
    text += EndpointSliceV6("pg-primary", primary_v6);
    text += EndpointSliceV6("pg-replica", {kReplica0.v6});
    text +=
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
        "metadata: {name: acme-lb}\nspec: {controllerName: xgate.dev/node-agent}\n";
    return text;
  }

  // Writes the manifest the agent watches in one step (rename), so it never reads half.
  void WriteManifest(const std::string& text) {
    fs::path staging = work_ / "l4.yaml.new";
    std::ofstream(staging) << text;
    fs::rename(staging, work_ / "manifests" / "l4.yaml");
  }

  // Namespaces, echo servers, manifests, the agent (applied); then this thread moves to
  // the client's namespace.
  void Boot(const std::vector<Pod>& pods, const std::string& manifest) {
    char tmpl[] = "/tmp/xgate-agent-l4.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    work_ = tmpl;
    fs::create_directories(work_ / "manifests");
    WriteManifest(manifest);
    topology_ = std::make_unique<Topology>();
    std::string why = topology_->Create(pods);
    ASSERT_EQ(why, "");
    // bpffs refuses names with a dot.
    static int serial = 0;
    pin_root_ =
        "/sys/fs/bpf/xgate-agent-e2e-" + std::to_string(getpid()) + "-" + std::to_string(++serial);
    ASSERT_NO_FATAL_FAILURE(StartAgent());
    home_ns_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(home_ns_, 0);
    ASSERT_TRUE(EnterNs(topology_->client()));
  }

  void StartAgent() {
    std::vector<std::string> args = {
        "--manifests",    (work_ / "manifests").string(),  "--pin-root",     pin_root_,
        "--admin-socket", (work_ / "admin.sock").string(), "--metrics-addr", "127.0.0.1:0"};
    for (const std::string& ifname : topology_->NodeInterfaces()) {
      args.push_back("--attach");
      args.push_back(ifname);
    }
    ++agents_started_;
    agent_ = AgentProcess::Start(topology_->node(), args,
                                 work_ / ("agent-" + std::to_string(agents_started_) + ".log"));
    ASSERT_NE(agent_, nullptr);
    admin_ = std::make_unique<AdminClient>((work_ / "admin.sock").string());
    ASSERT_NE(admin_->WaitApplied(), 0u) << "agent " << agents_started_ << " never applied";
  }

  std::string AgentLog(int n) const {
    return ReadFile(work_ / ("agent-" + std::to_string(n) + ".log"));
  }

  // `n` new connections' pods (one exchange each), counted; failures under "".
  static std::map<std::string, int> NewConnections(const std::string& gw, int n) {
    std::map<std::string, int> pods;
    for (int i = 0; i < n; ++i) {
      auto conn = TcpConn::Open(gw, 5432);
      pods[conn ? PodOf(conn->Exchange("new")) : ""]++;
    }
    return pods;
  }

  fs::path work_;
  std::string pin_root_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<AdminClient> admin_;
  int agents_started_ = 0;
  int home_ns_ = -1;
};

// (signal, Gateway address)
class AgentRestartTest : public AgentL4Test,
                         public ::testing::WithParamInterface<std::tuple<int, std::string>> {};

TEST_P(AgentRestartTest, OpenConnectionKeepsItsBackendAcrossTheRestart) {
  const auto& [sig, gw] = GetParam();
  std::string why;
  std::string manifest = Manifest(/*second_primary=*/false, &why);
  ASSERT_EQ(why, "");
  ASSERT_NO_FATAL_FAILURE(Boot({kPrimary0, kReplica0}, manifest));
  const std::string client = gw == kGatewayV4 ? "198.18.0.2" : "fd00::2";

  auto conn = TcpConn::Open(gw, 5432);
  ASSERT_NE(conn, nullptr) << "no connection to " << gw << ":5432";
  std::string first = conn->Exchange("before");
  const std::string pod = PodOf(first);
  ASSERT_TRUE(first == pod + " " + client + " before") << "reply: " << first;

  // An open admin connection holds the agent's gRPC shutdown for seconds (SIGTERM).
  admin_.reset();
  ASSERT_TRUE(agent_->Signal(sig));
  EXPECT_EQ(agent_->WaitForExit(), sig == SIGKILL ? 128 + SIGKILL : 0);
  EXPECT_EQ(conn->Exchange("agent-down"), pod + " " + client + " agent-down")
      << "the open connection stopped with the agent";
  std::map<std::string, int> down = NewConnections(gw, 10);
  EXPECT_EQ(down[""], 0) << "new connections failed with no agent running";

  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_NE(AgentLog(2).find("L4: adopted"), std::string::npos)
      << "the new agent did not adopt the pinned maps";
  EXPECT_EQ(conn->Exchange("after"), pod + " " + client + " after")
      << "the open connection broke or moved across the restart";

  constexpr int kConnections = 300;
  std::map<std::string, int> pods = NewConnections(gw, kConnections);
  EXPECT_EQ(pods[""], 0) << "new connections failed after the restart";
  EXPECT_NEAR(pods[kPrimary0.name] / double(kConnections), 0.8, 0.08);
  EXPECT_NEAR(pods[kReplica0.name] / double(kConnections), 0.2, 0.08);
  EXPECT_EQ(conn->Exchange("last"), pod + " " + client + " last");
}

INSTANTIATE_TEST_SUITE_P(Signals, AgentRestartTest,
                         ::testing::Values(std::make_tuple(SIGKILL, std::string(kGatewayV4)),
                                           std::make_tuple(SIGKILL, std::string(kGatewayV6)),
                                           std::make_tuple(SIGTERM, std::string(kGatewayV4))),
                         [](const ::testing::TestParamInfo<std::tuple<int, std::string>>& info) {
                           return std::string(std::get<0>(info.param) == SIGKILL ? "Sigkill"
                                                                                 : "Sigterm") +
                                  (std::get<1>(info.param) == kGatewayV4 ? "Ipv4" : "Ipv6");
                         });

// The parameter: the endpoint is marked ready: false (true) or deleted from the slice.
class EndpointRemovalTest : public AgentL4Test, public ::testing::WithParamInterface<bool> {};

TEST_P(EndpointRemovalTest, NoNewFlowsWhileTheEstablishedOneFinishes) {
  const bool not_ready = GetParam();
  std::string why;
  std::string manifest = Manifest(/*second_primary=*/true, &why);
  ASSERT_EQ(why, "");
  ASSERT_NO_FATAL_FAILURE(Boot({kPrimary0, kPrimary1, kReplica0}, manifest));

  // A connection pinned to pg-primary-0 (40% of new connections land there).
  std::unique_ptr<TcpConn> conn;
  for (int i = 0; i < 60 && !conn; ++i) {
    auto c = TcpConn::Open(kGatewayV4, 5432);
    ASSERT_NE(c, nullptr);
    if (PodOf(c->Exchange("hello")) == kPrimary0.name) conn = std::move(c);
  }
  ASSERT_NE(conn, nullptr) << "60 connections and none reached " << kPrimary0.name;

  auto state = admin_->State();
  ASSERT_TRUE(state.has_value());
  const std::string endpoint = "- addresses: [198.18.3.11]\n";
  std::string edited = manifest;
  ASSERT_TRUE(
      ReplaceOnce(edited, endpoint, not_ready ? endpoint + "  conditions: {ready: false}\n" : ""));
  WriteManifest(edited);
  uint64_t generation = admin_->WaitApplied(state->generation());
  ASSERT_NE(generation, 0u) << "the edited EndpointSlice was never applied";
  auto snapshot = admin_->Snapshot();
  ASSERT_TRUE(snapshot.has_value());
  bool listed = false;
  for (const auto& l : snapshot->l4()) {
    if (l.address() != kGatewayV4 || l.port() != 5432) continue;
    for (const auto& b : l.backends()) {
      EXPECT_NE(b.address(), kPrimary0.v4) << "still a backend in generation " << generation;
    }
    listed = true;
  }
  ASSERT_TRUE(listed) << "no listener " << kGatewayV4 << ":5432 in the snapshot";

  constexpr int kConnections = 100;
  std::map<std::string, int> pods = NewConnections(kGatewayV4, kConnections);
  EXPECT_EQ(pods[""], 0) << "new connections failed";
  EXPECT_EQ(pods[kPrimary0.name], 0) << "new connections reached the removed endpoint";
  EXPECT_GT(pods[kPrimary1.name], 0);
  EXPECT_GT(pods[kReplica0.name], 0);
  for (int i = 0; i < 5; ++i) {
    std::string msg = "draining-" + std::to_string(i);
    EXPECT_EQ(conn->Exchange(msg), kPrimary0.name + " 198.18.0.2 " + msg)
        << "the established connection lost its backend";
  }

  // A restarted agent finds the endpoint gone from the snapshot and its flow still open.
  ASSERT_TRUE(agent_->Signal(SIGKILL));
  agent_->WaitForExit();
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_EQ(conn->Exchange("restarted"), kPrimary0.name + " 198.18.0.2 restarted");
  pods = NewConnections(kGatewayV4, 30);
  EXPECT_EQ(pods[""], 0);
  EXPECT_EQ(pods[kPrimary0.name], 0) << "new connections reached the removed endpoint";
  conn.reset();
}

INSTANTIATE_TEST_SUITE_P(Edits, EndpointRemovalTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "MarkedNotReady" : "Deleted";
                         });

}  // namespace
}  // namespace xgate::e2e
