// The real xgate-agent on ../shared/examples/l4 (TCPRoute pg, 80/20 over pg-primary and
// pg-replica on 5432) in network namespaces (see topology.h):
// - SIGKILL (or SIGTERM) the agent under an open TCP connection, restart it on the same pin
//   root: the connection keeps working on its backend throughout, new ones split 80/20;
// - an endpoint leaves its EndpointSlice (deleted, or ready: false): no new connection
//   reaches it, the one already open keeps talking to it until it closes;
// - what an operator sees of an open flow (xgatectl explain packet and get conntrack,
//   bpftool's dump of the pinned conntrack map) and of the traffic sent (/metrics and
//   xgatectl get counters).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "maps/names.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_agent_l4/agent_process.h"
#include "tests/e2e_agent_l4/ops_probes.h"
#include "tests/e2e_agent_l4/topology.h"

namespace xgate::e2e {
namespace {

namespace fs = std::filesystem;

constexpr char kGatewayV4[] = "198.18.100.10";
constexpr char kGatewayV6[] = "fd00:100::10";

const Pod kPrimary0{"pg-primary-0", "198.18.3.11", "fd00:3::11"};
const Pod kPrimary1{"pg-primary-1", "198.18.3.12", "fd00:3::12"};
const Pod kReplica0{"pg-replica-0", "198.18.3.21", "fd00:3::21"};
// The dns Service's endpoints (UDP 53; nothing answers there, the datagrams just arrive).
const Pod kDns0{"dns-0", "198.18.3.31", "fd00:3::31"};
const Pod kDns1{"dns-1", "198.18.3.32", "fd00:3::32"};
const Pod kDns2{"dns-2", "198.18.3.33", "fd00:3::33"};

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
      PrintFastPathCounters(pin_root_);
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
    std::string why = topology_->Create(pods, napi_);
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

  bool napi_ = false;  // the pods' veths: plain (default) or with NAPI on the pod's end
  fs::path work_;
  std::string pin_root_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<AdminClient> admin_;
  int agents_started_ = 0;
  int home_ns_ = -1;
};

// (signal, Gateway address, NAPI on the pods' veths)
class AgentRestartTest : public AgentL4Test,
                         public ::testing::WithParamInterface<std::tuple<int, std::string, bool>> {
};

TEST_P(AgentRestartTest, OpenConnectionKeepsItsBackendAcrossTheRestart) {
  const auto& [sig, gw, napi] = GetParam();
  napi_ = napi;
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

INSTANTIATE_TEST_SUITE_P(
    Signals, AgentRestartTest,
    ::testing::Values(std::make_tuple(SIGKILL, std::string(kGatewayV4), false),
                      std::make_tuple(SIGKILL, std::string(kGatewayV6), false),
                      std::make_tuple(SIGTERM, std::string(kGatewayV4), false),
                      std::make_tuple(SIGKILL, std::string(kGatewayV4), true),
                      std::make_tuple(SIGKILL, std::string(kGatewayV6), true)),
    [](const ::testing::TestParamInfo<std::tuple<int, std::string, bool>>& info) {
      return std::string(std::get<0>(info.param) == SIGKILL ? "Sigkill" : "Sigterm") +
             (std::get<1>(info.param) == kGatewayV4 ? "Ipv4" : "Ipv6") +
             (std::get<2>(info.param) ? "NapiPods" : "PlainPods");
    });

// (the endpoint is marked ready: false (true) or deleted from the slice, NAPI on the pods' veths)
class EndpointRemovalTest : public AgentL4Test,
                            public ::testing::WithParamInterface<std::tuple<bool, bool>> {};

TEST_P(EndpointRemovalTest, NoNewFlowsWhileTheEstablishedOneFinishes) {
  const auto& [not_ready, napi] = GetParam();
  napi_ = napi;
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

INSTANTIATE_TEST_SUITE_P(Edits, EndpointRemovalTest,
                         ::testing::Values(std::make_tuple(true, false),
                                           std::make_tuple(false, false),
                                           std::make_tuple(false, true)),
                         [](const ::testing::TestParamInfo<std::tuple<bool, bool>>& info) {
                           return std::string(std::get<0>(info.param) ? "MarkedNotReady"
                                                                      : "Deleted") +
                                  (std::get<1>(info.param) ? "NapiPods" : "PlainPods");
                         });

// A pod turning GRO on and off under open connections (its veth's end on the node taking
// XDP_REDIRECTed frames, then not): the agent follows the kernel's notification, each packet
// goes by XDP or by TC as the device allows, and no connection breaks or changes pod.
TEST_F(AgentL4Test, GroToggledUnderOpenFlowsBreaksNone) {
  std::string why;
  std::string manifest = Manifest(/*second_primary=*/false, &why);
  ASSERT_EQ(why, "");
  ASSERT_NO_FATAL_FAILURE(Boot({kPrimary0, kReplica0}, manifest));
  struct Open {
    std::unique_ptr<TcpConn> conn;
    std::string pod;
  };
  std::vector<Open> open;
  for (int i = 0; i < 12; ++i) {
    const std::string gw = i % 2 ? kGatewayV6 : kGatewayV4;
    auto conn = TcpConn::Open(gw, 5432);
    ASSERT_NE(conn, nullptr) << "connection " << i;
    std::string pod = PodOf(conn->Exchange("hello"));
    ASSERT_FALSE(pod.empty()) << "connection " << i;
    open.push_back({std::move(conn), pod});
  }
  for (int round = 0; round < 6; ++round) {
    const bool on = round % 2 == 0;
    for (size_t pod = 0; pod < 2; ++pod) ASSERT_TRUE(topology_->SetPodGro(pod, on));
    // The bursts are meant for each state: the agent must have seen the change first (on a
    // loaded machine its watch can lag the bursts).
    for (size_t pod = 0; pod < 2; ++pod)
      ASSERT_TRUE(topology_->WaitPodEgress(pin_root_, pod, on)) << "pod " << pod << " GRO " << on;
    for (int burst = 0; burst < 5; ++burst) {
      for (size_t i = 0; i < open.size(); ++i) {
        std::string msg = absl::StrCat("r", round, "b", burst);
        std::string reply = open[i].conn->Exchange(msg);
        EXPECT_EQ(PodOf(reply), open[i].pod) << "connection " << i << " round " << round << " (GRO "
                                             << (on ? "on" : "off") << "): " << reply;
      }
    }
    std::map<std::string, int> fresh = NewConnections(kGatewayV4, 10);
    EXPECT_EQ(fresh[""], 0) << "new connections failed, round " << round;
  }
  auto paths = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, maps::kPathStats));
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_GT(paths->Read(XG_PATH_FORWARD)->packets, 0u) << "XDP never redirected (GRO on)";
  EXPECT_GT(paths->Read(XG_PATH_FORWARD_TC)->packets, 0u) << "TC never sent (GRO off)";
}

// "address:port", IPv6 in brackets, as the metrics' labels write it.
std::string HostPort(const std::string& address, int port) {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// The fast path's counters as /metrics and `xgatectl get counters` give them.
struct FastPathCounts {
  std::map<std::string, double> listeners;  // "address:port/protocol" -> packets
  std::map<std::string, double> backends;   // "address:port" -> packets
  bool operator==(const FastPathCounts&) const = default;
};

FastPathCounts FromMetrics(const std::string& text) {
  FastPathCounts c;
  for (const auto& [labels, value] : Samples(text, "xgate_fastpath_listener_packets_total")) {
    c.listeners[labels.at("listener")] += value;
  }
  for (const auto& [labels, value] : Samples(text, "xgate_fastpath_backend_packets_total")) {
    c.backends[labels.at("backend")] += value;
  }
  return c;
}

double JsonCount(const nlohmann::json& v) {  // uint64 fields come as strings in proto JSON
  double d = 0;
  if (v.is_number()) return v.get<double>();
  return v.is_string() && absl::SimpleAtod(v.get<std::string>(), &d) ? d : -1;
}

FastPathCounts FromCounters(const nlohmann::json& j) {
  FastPathCounts c;
  for (const auto& l : j.value("listeners", nlohmann::json::array())) {
    c.listeners[HostPort(l.value("address", ""), l.value("port", 0)) + "/" +
                l.value("protocol", "")] += JsonCount(l["packets"]);
  }
  for (const auto& b : j.value("backends", nlohmann::json::array())) {
    c.backends[HostPort(b.value("address", ""), b.value("port", 0))] += JsonCount(b["packets"]);
  }
  return c;
}

// A port field of bpftool's JSON (the maps keep ports in host order).
uint16_t Port(const nlohmann::json& v) { return v.is_number() ? v.get<uint16_t>() : 0; }

// A 16-byte address field of bpftool's BTF-formatted JSON (numbers, or "0x.." strings).
std::string AddressOf(const nlohmann::json& bytes) {
  if (!bytes.is_array() || bytes.size() != 16) return "";
  uint8_t raw[16];
  for (size_t i = 0; i < 16; ++i) {
    raw[i] = bytes[i].is_number()
                 ? bytes[i].get<uint8_t>()
                 : static_cast<uint8_t>(std::stoul(bytes[i].get<std::string>(), nullptr, 16));
  }
  static const uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char text[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(raw, kV4Mapped, 12) == 0) {
    inet_ntop(AF_INET, raw + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, raw, text, sizeof text);
  }
  return text;
}

class OperatorViewTest : public AgentL4Test {
 protected:
  CommandResult Xgatectl(const std::string& args) const {
    return RunCommand(std::string(XGATECTL_PATH) + " --socket " + (work_ / "admin.sock").string() +
                      " " + args);
  }
  // The agent's /metrics, scraped inside the node's namespace; "" when it does not answer.
  std::string Scrape() const { return HttpGetInNs(topology_->node(), metrics_port_, "/metrics"); }
  nlohmann::json CountersJson() const {
    CommandResult r = Xgatectl("get counters -o json");
    return r.exit_code == 0 ? nlohmann::json::parse(r.out, nullptr, false) : nlohmann::json();
  }
  // The counters once two scrapes in a row agree (late ACKs settled) and `xgatectl get
  // counters` between them says the same; nullopt at the deadline.
  std::optional<FastPathCounts> SettledCounts() const {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    FastPathCounts last = FromMetrics(Scrape());
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
      FastPathCounts ctl = FromCounters(CountersJson());
      FastPathCounts now = FromMetrics(Scrape());
      if (now == last && ctl == now && !now.listeners.empty()) return now;
      last = now;
    }
    return std::nullopt;
  }
  uint16_t metrics_port_ = 0;
};

TEST_F(OperatorViewTest, OpenFlowAndTrafficAsXgatectlBpftoolAndMetricsShowThem) {
  std::string why;
  std::string manifest = Manifest(/*second_primary=*/false, &why);
  ASSERT_EQ(why, "");
  ASSERT_NO_FATAL_FAILURE(Boot({kPrimary0, kReplica0, kDns0, kDns1, kDns2}, manifest));
  // The agent was given --metrics-addr 127.0.0.1:0 and logs the port it got.
  metrics_port_ = LoggedMetricsPort(AgentLog(1));
  ASSERT_NE(metrics_port_, 0) << "no \"metrics on http://...\" line in the agent's log";

  auto conn = TcpConn::Open(kGatewayV4, 5432);
  ASSERT_NE(conn, nullptr);
  const std::string pod = PodOf(conn->Exchange("hello"));
  ASSERT_TRUE(pod == kPrimary0.name || pod == kReplica0.name) << "reply from " << pod;
  const std::string backend = pod == kPrimary0.name ? kPrimary0.v4 : kReplica0.v4;
  const std::string other = pod == kPrimary0.name ? kReplica0.v4 : kPrimary0.v4;
  const uint16_t sport = conn->local_port();
  ASSERT_NE(sport, 0);
  const std::string src = "198.18.0.2:" + std::to_string(sport);

  // explain packet: the conntrack entry pins the flow to the backend that answered.
  CommandResult text =
      Xgatectl("explain packet --src " + src + " --dst " + kGatewayV4 + ":5432 --proto tcp");
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("Conntrack: " + backend + ":5432, age "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(pins the flow)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Backend:   " + backend + ":5432"), std::string::npos) << text.out;
  CommandResult json = Xgatectl("explain packet --src " + src + " --dst " + kGatewayV4 +
                                ":5432 --proto tcp -o json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  nlohmann::json packet = nlohmann::json::parse(json.out, nullptr, false)["packet"];
  EXPECT_EQ(packet.value("pinned", false), true) << json.out;
  EXPECT_EQ(packet["backend"].value("address", ""), backend) << json.out;
  EXPECT_EQ(packet["conntrack"].value("backendAddress", ""), backend) << json.out;

  // get conntrack lists the flow with that backend.
  CommandResult ct = Xgatectl("get conntrack -o json");
  ASSERT_EQ(ct.exit_code, 0) << ct.out;
  int listed = 0;
  for (const auto& e :
       nlohmann::json::parse(ct.out, nullptr, false).value("entries", nlohmann::json::array())) {
    if (e.value("srcAddress", "") != "198.18.0.2" || e.value("srcPort", 0) != sport) continue;
    ++listed;
    EXPECT_EQ(e.value("dstAddress", ""), kGatewayV4) << e.dump();
    EXPECT_EQ(e.value("dstPort", 0), 5432) << e.dump();
    EXPECT_EQ(e.value("protocol", ""), "tcp") << e.dump();
    EXPECT_EQ(e.value("backendAddress", ""), backend) << e.dump();
    EXPECT_EQ(e.value("backendPort", 0), 5432) << e.dump();
    EXPECT_FALSE(e.value("stale", true)) << e.dump();
  }
  EXPECT_EQ(listed, 1) << ct.out;

  // bpftool reads the same entry from the pinned map (BTF names the fields).
  CommandResult dump = RunCommand("bpftool map dump pinned " + pin_root_ + "/" +
                                  std::string(maps::kConntrack) + " -j");
  ASSERT_EQ(dump.exit_code, 0) << dump.out;
  int dumped = 0;
  for (const auto& e : nlohmann::json::parse(dump.out, nullptr, false)) {
    if (!e.contains("formatted")) continue;
    const auto& key = e["formatted"]["key"];
    const auto& value = e["formatted"]["value"];
    if (AddressOf(key["src"]) != "198.18.0.2" || Port(key["sport"]) != sport) continue;
    ++dumped;
    EXPECT_EQ(AddressOf(key["dst"]), kGatewayV4) << e.dump();
    EXPECT_EQ(Port(key["dport"]), 5432) << e.dump();
    EXPECT_EQ(AddressOf(value["backend_addr"]), backend) << e.dump();
    EXPECT_EQ(Port(value["backend_port"]), 5432) << e.dump();
  }
  EXPECT_EQ(dumped, 1) << dump.out.substr(0, 4000);

  // Traffic: exchanges on the open connection, datagrams to the UDP listener.
  auto before = SettledCounts();
  ASSERT_TRUE(before.has_value()) << "counters never settled; last scrape:\n" << Scrape();
  constexpr int kExchanges = 20;
  constexpr int kDatagrams = 25;
  for (int i = 0; i < kExchanges; ++i) {
    std::string msg = "traffic-" + std::to_string(i);
    ASSERT_EQ(conn->Exchange(msg), pod + " 198.18.0.2 " + msg);
  }
  ASSERT_EQ(SendUdp(kGatewayV4, 53, kDatagrams), kDatagrams);
  auto after = SettledCounts();
  ASSERT_TRUE(after.has_value()) << "counters never settled, or xgatectl get counters and "
                                    "/metrics disagree; last scrape:\n"
                                 << Scrape() << "\nxgatectl: " << CountersJson().dump();
  auto delta = [&](const std::map<std::string, double> FastPathCounts::*m, const std::string& k) {
    auto get = [&](const FastPathCounts& c) {
      auto it = (c.*m).find(k);
      return it == (c.*m).end() ? 0.0 : it->second;
    };
    return get(*after) - get(*before);
  };
  const std::string tcp_listener = std::string(kGatewayV4) + ":5432/tcp";
  const std::string udp_listener = std::string(kGatewayV4) + ":53/udp";
  // To the backend, each exchange is one data segment and at most one ACK of the reply; the
  // listener also counts the replies (reverse NAT): one data segment each, at most one ACK.
  double forwarded = delta(&FastPathCounts::backends, backend + ":5432");
  EXPECT_GE(forwarded, kExchanges) << backend;
  EXPECT_LE(forwarded, 2 * kExchanges) << backend;
  double replies = delta(&FastPathCounts::listeners, tcp_listener) - forwarded;
  EXPECT_GE(replies, kExchanges) << tcp_listener;
  EXPECT_LE(replies, 2 * kExchanges) << tcp_listener;
  EXPECT_EQ(delta(&FastPathCounts::backends, other + ":5432"), 0) << other;
  EXPECT_EQ(delta(&FastPathCounts::listeners, udp_listener), kDatagrams) << udp_listener;
  double dns = 0;
  for (const Pod& p : {kDns0, kDns1, kDns2}) dns += delta(&FastPathCounts::backends, p.v4 + ":53");
  EXPECT_EQ(dns, kDatagrams) << "datagrams forwarded to the dns endpoints";
}

}  // namespace
}  // namespace xgate::e2e
