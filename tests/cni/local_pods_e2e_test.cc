// Local pods end to end (issue #14 points 2-3): the real xgate-agent with --attach in a node
// namespace (tests/e2e_agent_l4/topology.h: client, node, one "remote" backend reached through
// the FIB), and pods added to the node through xgate-cni chained after Debian's ptp plugin, as
// a runtime runs a conflist (cni_runtime.h). Backends are plain veths, nothing on their far end.
// - an L4 route over one local pod and the remote backend: both serve, the local one through
//   its direct path (forward_local), replies reverse-NATed; the pod deleted while a connection
//   is open: new flows go to the remote one;
// - 50 pods added and deleted in a burst: xg_local_pods and the pinned pod links follow
//   exactly; an agent restart adopts them; an interface that vanishes without a DEL loses both,
//   within half a second (rtnetlink, not the resync);
// - the direct path's two branches (TC into a plain veth, XDP_REDIRECT when the pod's end has
//   an XDP program); an IPv6 local pod (ULA, dual-stack conflist);
// - EndpointSlices and records that disagree, reported until they agree; the nodeName rule in
//   Kubernetes mode, against xgate-test-apiserver.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "api/admin.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "maps/egress.h"
#include "maps/names.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "tests/cni/cni_runtime.h"
#include "tests/e2e_agent_l4/agent_process.h"
#include "tests/e2e_agent_l4/topology.h"
#include "tests/kube/server_process.h"
#include "tests/netns/netns.h"

namespace xgate::cni_test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using e2e::Sh;

constexpr char kDebianCniDir[] = "/usr/lib/cni";
constexpr char kGateway[] = "198.18.100.10";
constexpr char kGateway6[] = "fd00:100::10";
const e2e::Pod kRemote{"remote-0", "198.18.3.21", "fd00:3::21"};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `done` until it holds or the deadline passes.
bool Eventually(const std::function<bool()>& done) {
  for (auto end = Clock::now() + e2e::kDeadline; Clock::now() < end;) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A TCP route on the Gateway address over the Service "pg" with these endpoints (address,
// nodeName or "").
// With `v6`, the Gateway address is kGateway6 and the slice's addressType IPv6.
std::string Manifest(const std::vector<std::pair<std::string, std::string>>& endpoints,
                     bool v6 = false) {
  std::string out = R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: acme-lb}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{type: IPAddress, value: GATEWAY}]
  listeners: [{name: pg, protocol: TCP, port: 5432, allowedRoutes: {kinds: [{kind: TCPRoute}]}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: pg, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: pg}]
  rules: [{backendRefs: [{name: pg, port: 5432}]}]
---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: default}
spec: {ports: [{port: 5432, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pg-1, namespace: default, labels: {kubernetes.io/service-name: pg}}
addressType: FAMILY
ports: [{port: 5432, protocol: TCP}]
endpoints:
)";
  out.replace(out.find("GATEWAY"), 7, v6 ? kGateway6 : kGateway);
  out.replace(out.find("FAMILY"), 6, v6 ? "IPv6" : "IPv4");
  for (const auto& [address, node] : endpoints) {
    out += "- addresses: [\"" + address + "\"]\n";
    if (!node.empty()) out += "  nodeName: " + node + "\n";
  }
  return out;
}

std::string PodOf(const std::string& reply) { return reply.substr(0, reply.find(' ')); }

class LocalPodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = geteuid() != 0 ? "needs root (network namespaces, XDP)" : e2e::PrivateBpffs();
    if (why.empty() && access((std::string(kDebianCniDir) + "/ptp").c_str(), X_OK) != 0) {
      why = "containernetworking-plugins is not installed (tools/setup)";
    }
    if (!why.empty()) {
      if (e2e::PrivilegeRequired()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    static int serial = 0;
    suffix_ = std::to_string(getpid() % 100000) + "-" + std::to_string(++serial);
    work_ = fs::temp_directory_path() / ("xgate-local-pods-" + suffix_);
    fs::remove_all(work_);
    fs::create_directories(work_ / "manifests");
    pin_root_ = "/sys/fs/bpf/xgate-local-pods-" + suffix_;
    topology_ = std::make_unique<e2e::Topology>();
    ASSERT_EQ(topology_->Create({kRemote}), "");
    net_ = std::make_unique<CniRuntime>(
        Conflist(), std::vector<std::string>{kDebianCniDir, XGATE_CNI_DIR}, topology_->node());
    WriteManifest(Manifest({{kRemote.v4, ""}}));
    ASSERT_NO_FATAL_FAILURE(StartAgent());
  }

  void TearDown() override {
    if (HasFailure()) {
      for (int i = 1; i <= agents_; ++i) {
        std::printf("---- agent %d ----\n%s\n", i,
                    ReadFile(work_ / ("agent-" + std::to_string(i) + ".log")).c_str());
      }
    }
    if (HasFailure()) e2e::PrintFastPathCounters(pin_root_);
    agent_.reset();
    echoes_.clear();
    for (const auto& ns : pod_namespaces_) Sh("ip netns del " + ns);
    if (topology_) {
      topology_->Remove();
      EXPECT_TRUE(topology_->AllRemoved()) << "network namespaces left behind";
    }
    std::error_code ec;
    fs::remove_all(pin_root_, ec);
    fs::remove_all(work_, ec);
  }

  // `dual_stack`: each pod gets an IPv6 (ULA) address too.
  Json Conflist(bool dual_stack = false) const {
    Json ranges = Json::array({Json::array({{{"subnet", "198.19.72.0/24"}}})});
    Json routes = Json::array({{{"dst", "0.0.0.0/0"}}});
    if (dual_stack) {
      ranges.push_back(Json::array({{{"subnet", "fd00:72::/64"}}}));
      routes.push_back({{"dst", "::/0"}});
    }
    Json ipam = {{"type", "host-local"},
                 {"dataDir", (work_ / "ipam").string()},
                 {"ranges", ranges},
                 {"routes", routes}};
    Json ptp = {{"type", "ptp"}, {"ipMasq", false}, {"ipam", ipam}};
    Json xgate = {
        {"type", "xgate-cni"}, {"stateDir", (work_ / "state").string()}, {"adminSocket", Socket()}};
    return {{"cniVersion", "1.0.0"},
            {"name", "xgate-local-" + suffix_},
            {"plugins", Json::array({ptp, xgate})}};
  }
  std::string Socket() const { return (work_ / "admin.sock").string(); }
  std::string Node() const { return "node-" + suffix_; }

  void WriteManifest(const std::string& text) {
    fs::path staging = work_ / "pg.yaml.new";
    std::ofstream(staging) << text;
    fs::rename(staging, work_ / "manifests" / "pg.yaml");
  }

  // `source`: where the objects come from (the manifest folder by default).
  void StartAgent(std::vector<std::string> source = {}) {
    if (source.empty()) source = {"--manifests", (work_ / "manifests").string()};
    std::vector<std::string> args = {
        source[0],        source[1], "--pin-root",      pin_root_,
        "--admin-socket", Socket(),  "--cni-state-dir", (work_ / "state").string(),
        "--node-name",    Node()};
    for (const auto& ifname : topology_->NodeInterfaces()) {
      args.push_back("--attach");
      args.push_back(ifname);
    }
    agent_ = e2e::AgentProcess::Start(topology_->node(), args,
                                      work_ / ("agent-" + std::to_string(++agents_) + ".log"));
    ASSERT_NE(agent_, nullptr);
    e2e::AdminClient admin(Socket());
    ASSERT_NE(admin.WaitApplied(), 0u) << "the agent never applied";
  }
  uint64_t WaitApplied() { return e2e::AdminClient(Socket()).WaitApplied(); }
  // xgatectl's output for `command` against the agent.
  std::string Xgatectl(const std::string& command) const {
    std::string out;
    FILE* p =
        popen((std::string(XGATE_CTL_PATH) + " --socket " + Socket() + " " + command).c_str(), "r");
    char buf[4096];
    for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    if (p) pclose(p);
    return out;
  }

  // A pod namespace added to the node through the conflist; its address.
  struct LocalPod {
    Attachment attachment;
    std::string ns, address;
    std::string address6;  // through a dual-stack conflist
  };
  // Through `net` (net_ when null).
  std::optional<LocalPod> AddPod(int i, CniRuntime* net = nullptr) {
    LocalPod pod;
    pod.ns = "xlp" + suffix_ + "-" + std::to_string(i);
    if (!Sh("ip netns add " + pod.ns)) return std::nullopt;
    {
      std::lock_guard lock(ns_mu_);
      pod_namespaces_.push_back(pod.ns);
    }
    // No duplicate address detection: the pod's IPv6 address usable at once.
    if (net != nullptr &&
        !Sh("ip netns exec " + pod.ns +
            " sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0")) {
      return std::nullopt;
    }
    pod.attachment = {"lp-" + suffix_ + "-" + std::to_string(i), "/run/netns/" + pod.ns, "eth0"};
    ChainRun add = (net != nullptr ? net : net_.get())->Add(pod.attachment);
    if (!add.ok) {
      ADD_FAILURE() << add.plugin << ": " << add.last.out << add.last.err;
      return std::nullopt;
    }
    for (const auto& ip : add.result.at("ips")) {
      std::string cidr = ip.at("address");
      std::string address = cidr.substr(0, cidr.find('/'));
      (address.find(':') == std::string::npos ? pod.address : pod.address6) = address;
    }
    return pod;
  }

  std::optional<api::ListPodAttachmentsResponse> ListPods() const {
    auto stub = api::Admin::NewStub(
        grpc::CreateChannel("unix:" + Socket(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    api::ListPodAttachmentsResponse response;
    if (!stub->ListPodAttachments(&context, {}, &response).ok()) return std::nullopt;
    return response;
  }

  // xg_local_pods: address -> ifindex.
  std::map<std::string, uint32_t> LocalPodMap() const {
    std::map<std::string, uint32_t> out;
    auto map = maps::LocalPodMap::OpenPinned(maps::PinPath(pin_root_, maps::kLocalPods));
    if (!map.ok()) return out;
    auto entries = map->Entries();
    if (!entries.ok()) return out;
    for (const auto& [k, v] : *entries) out[maps::FormatAddress(k.addr)] = v.ifindex;
    return out;
  }
  // The pod links pinned under the pin root, by host-side interface.
  std::set<std::string> PodLinks() const {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(pin_root_, ec)) {
      std::string name = e.path().filename().string();
      if (name.starts_with("link_pod_in_")) out.insert(name.substr(12));
    }
    return out;
  }
  // The node's veths (ptp's host-side ends; n0 and p1 are the topology's).
  std::set<std::string> PodVeths() const {
    std::set<std::string> out;
    FILE* p = popen(("ip -n " + topology_->node() + " -o link show type veth").c_str(), "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
      std::string s(line);
      size_t a = s.find(": ") + 2, b = s.find('@');
      std::string name = s.substr(a, b - a);
      if (name != "n0" && name != "p1") out.insert(name);
    }
    if (p) pclose(p);
    return out;
  }
  // The route over the local pod at `local` (its echo server answers "local-0") and the remote
  // backend, on the Gateway address of the family: 40 new connections, both serve. Each local
  // connection's packets (SYN, ACK, data...) went in directly; replies came back through
  // reverse NAT (the client talked to the Gateway address throughout).
  void ServeLocalAndRemote(const std::string& local, bool v6) {
    uint64_t before = WaitApplied();
    WriteManifest(Manifest({{local, Node()}, {v6 ? kRemote.v6 : kRemote.v4, ""}}, v6));
    ASSERT_NE(e2e::AdminClient(Socket()).WaitApplied(before), 0u);
    uint64_t local_before = PathCount(XG_PATH_FORWARD_LOCAL);
    uint64_t rnat_before = PathCount(XG_PATH_RNAT);
    auto served = NewConnections(40, v6 ? kGateway6 : kGateway);
    EXPECT_EQ(served[""], 0) << "connections failed";
    EXPECT_GT(served["local-0"], 0);
    EXPECT_GT(served[kRemote.name], 0);
    EXPECT_GE(PathCount(XG_PATH_FORWARD_LOCAL) - local_before,
              static_cast<uint64_t>(2 * served["local-0"]));
    EXPECT_GT(PathCount(XG_PATH_RNAT) - rnat_before, static_cast<uint64_t>(2 * 40));
  }

  // xg_egress says the device takes XDP_REDIRECTed frames.
  bool EgressTakesXdp(uint32_t ifindex) const {
    auto map =
        maps::TypedMap<uint32_t, xg_egress>::OpenPinned(maps::PinPath(pin_root_, maps::kEgress));
    if (!map.ok()) return false;
    auto value = map->Lookup(ifindex);
    return value.ok() && value->has_value() && ((*value)->flags & XG_EGRESS_XDP_XMIT) != 0;
  }

  // One local pod alone behind the route, with an XDP program on its end of the veth (`xdp`)
  // or without: which branch of the direct path ran, by xg_egress's flag for the pod's
  // host-side interface and the counters. XDP_REDIRECT counts forward_local at XDP only; the
  // TC branch first counts forward_up at XDP (handed up rewritten), then forward_local at TC.
  void ServeOneLocalPod(bool xdp) {
    auto pod = AddPod(0);
    ASSERT_TRUE(pod.has_value());
    echoes_.push_back(std::make_unique<e2e::LineEcho>(pod->ns, "local-0", 5432));
    ASSERT_TRUE(echoes_.back()->Start());
    if (xdp) {
      ASSERT_TRUE(e2e::InNamespace(pod->ns, [] { return e2e::AttachXdpPass("eth0"); }));
    }
    ASSERT_TRUE(Eventually([&] { return LocalPodMap().contains(pod->address); }));
    uint32_t ifindex = LocalPodMap()[pod->address];
    ASSERT_TRUE(Eventually([&] { return EgressTakesXdp(ifindex) == xdp; }))
        << "xg_egress never said " << (xdp ? "XDP_XMIT" : "no XDP_XMIT") << " for ifindex "
        << ifindex;
    uint64_t before = WaitApplied();
    WriteManifest(Manifest({{pod->address, Node()}}));
    ASSERT_NE(e2e::AdminClient(Socket()).WaitApplied(before), 0u);
    uint64_t local_before = PathCount(XG_PATH_FORWARD_LOCAL);
    uint64_t up_before = PathCount(XG_PATH_FORWARD_UP);
    auto served = NewConnections(20);
    EXPECT_EQ(served["local-0"], 20) << "failed: " << served[""];
    uint64_t local = PathCount(XG_PATH_FORWARD_LOCAL) - local_before;
    uint64_t up = PathCount(XG_PATH_FORWARD_UP) - up_before;
    EXPECT_GE(local, 2u * 20) << "forward_local";
    if (xdp) {
      EXPECT_EQ(up, 0u) << "packets went up to TC although the pod's interface takes XDP";
    } else {
      EXPECT_GE(up, local) << "forward_local packets that did not go up first";
    }
  }

  uint64_t PathCount(uint32_t path) const {
    auto c = maps::TrafficCounters::OpenPinned(maps::PinPath(pin_root_, maps::kPathStats));
    if (!c.ok()) return 0;
    auto t = c->Read(path);
    return t.ok() ? t->packets : 0;
  }

  // Opens a connection to the Gateway (`gateway`) from the client's namespace.
  std::unique_ptr<e2e::TcpConn> Connect(const std::string& gateway = kGateway) const {
    std::unique_ptr<e2e::TcpConn> conn;
    e2e::InNamespace(topology_->client(), [&] {
      conn = e2e::TcpConn::Open(gateway, 5432);
      return conn != nullptr;
    });
    return conn;
  }
  // `n` new connections, by the pod that answered (failures under ""). The pods see the
  // client's own address (no SNAT).
  std::map<std::string, int> NewConnections(int n, const std::string& gateway = kGateway) const {
    const std::string client = gateway == kGateway ? "198.18.0.2" : "fd00::2";
    std::map<std::string, int> pods;
    for (int i = 0; i < n; ++i) {
      auto conn = Connect(gateway);
      std::string reply = conn ? conn->Exchange("new") : "";
      EXPECT_TRUE(reply.empty() || reply.ends_with(" " + client + " new")) << reply;
      pods[conn ? PodOf(reply) : ""]++;
    }
    return pods;
  }
  // The L4 route's backend addresses in the agent's snapshot.
  std::set<std::string> Backends() const {
    std::set<std::string> out;
    auto snapshot = e2e::AdminClient(Socket()).Snapshot();
    for (int i = 0; snapshot && i < snapshot->l4_size(); ++i) {
      for (const auto& b : snapshot->l4(i).backends()) out.insert(b.address());
    }
    return out;
  }
  // The disagreements the agent reports, as "kind address slice nodeName".
  std::set<std::string> Mismatches() const {
    std::set<std::string> out;
    if (auto listed = ListPods()) {
      for (const auto& m : listed->mismatches()) {
        out.insert(m.kind() + " " + m.address() + " " + m.slice() + " " + m.node_name());
      }
    }
    return out;
  }

  std::string suffix_, pin_root_;
  fs::path work_;
  std::unique_ptr<e2e::Topology> topology_;
  std::unique_ptr<CniRuntime> net_;
  std::unique_ptr<e2e::AgentProcess> agent_;
  int agents_ = 0;
  std::mutex ns_mu_;
  std::vector<std::string> pod_namespaces_;
  std::vector<std::unique_ptr<e2e::LineEcho>> echoes_;
};

TEST_F(LocalPodsTest, LocalAndRemoteBackendsServeTheLocalOneDirectly) {
  auto pod = AddPod(0);
  ASSERT_TRUE(pod.has_value());
  echoes_.push_back(std::make_unique<e2e::LineEcho>(pod->ns, "local-0", 5432));
  ASSERT_TRUE(echoes_.back()->Start());
  ASSERT_TRUE(Eventually([&] { return LocalPodMap().contains(pod->address); }))
      << "xg_local_pods never had " << pod->address;
  // What an operator reads: the map with named fields, and xgatectl get pods.
  std::string dump;
  {
    FILE* p = popen(
        ("bpftool -j map dump pinned " + maps::PinPath(pin_root_, maps::kLocalPods)).c_str(), "r");
    char buf[4096];
    while (p && fgets(buf, sizeof buf, p)) dump += buf;
    if (p) pclose(p);
  }
  EXPECT_NE(dump.find("\"pod_mac\""), std::string::npos) << dump;
  EXPECT_NE(dump.find("\"ifindex\""), std::string::npos) << dump;
  auto listed = ListPods();
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->programmed_size(), 1);
  EXPECT_EQ(listed->programmed(0).problem(), "");
  EXPECT_EQ(PodLinks(), std::set<std::string>{listed->programmed(0).host_interface()});
  EXPECT_EQ(PodVeths(), std::set<std::string>{listed->programmed(0).host_interface()});

  ASSERT_NO_FATAL_FAILURE(ServeLocalAndRemote(pod->address, /*v6=*/false));

  // A connection on the local pod, then the pod deleted (CNI DEL): its endpoint, on this node
  // by its nodeName, has no pod in the records any more, so new flows go to the remote backend
  // at once (before any EndpointSlice controller would take it out).
  std::unique_ptr<e2e::TcpConn> open;
  for (int i = 0; i < 40 && !open; ++i) {
    auto conn = Connect();
    if (conn && PodOf(conn->Exchange("which")) == "local-0") open = std::move(conn);
  }
  ASSERT_NE(open, nullptr) << "no connection landed on the local pod";
  ASSERT_TRUE(net_->Del(pod->attachment).ok);
  EXPECT_TRUE(Eventually([&] { return LocalPodMap().empty() && PodLinks().empty(); }))
      << "the pod's map entry or link stayed";
  EXPECT_TRUE(Eventually([&] {
    auto snapshot = e2e::AdminClient(Socket()).Snapshot();
    return snapshot && snapshot->l4_size() == 1 && snapshot->l4(0).backends_size() == 1;
  })) << "the deleted pod's endpoint stayed in the route";
  auto after = NewConnections(20);
  EXPECT_EQ(after[kRemote.name], 20)
      << "local-0: " << after["local-0"] << ", failed: " << after[""];
}

// The direct path's two branches: into a plain pod veth by TC ingress (bpf_redirect) after XDP
// handed the rewritten packet up, and by XDP_REDIRECT once the pod's end has an XDP program
// (the host side then takes redirected frames: xg_egress says XDP_XMIT).
TEST_F(LocalPodsTest, TheDirectPathGoesThroughTcIntoAPlainPodVeth) { ServeOneLocalPod(false); }

TEST_F(LocalPodsTest, TheDirectPathIsAnXdpRedirectWhenThePodsEndHasAnXdpProgram) {
  ServeOneLocalPod(true);
}

// IPv6 local pods (ULA addresses from a dual-stack conflist): an L4 route on an IPv6 Gateway
// address over a local pod and a remote backend; the local one through forward_local, the
// replies reverse-NATed (the client talks to the Gateway address throughout).
TEST_F(LocalPodsTest, AnIpv6LocalPodIsServedDirectly) {
  CniRuntime dual(Conflist(/*dual_stack=*/true),
                  std::vector<std::string>{kDebianCniDir, XGATE_CNI_DIR}, topology_->node());
  auto pod = AddPod(0, &dual);
  ASSERT_TRUE(pod.has_value());
  ASSERT_FALSE(pod->address6.empty()) << "the conflist gave no IPv6 address";
  echoes_.push_back(std::make_unique<e2e::LineEcho>(pod->ns, "local-0", 5432));
  ASSERT_TRUE(echoes_.back()->Start());
  ASSERT_TRUE(Eventually([&] { return LocalPodMap().contains(pod->address6); }))
      << "xg_local_pods never had " << pod->address6;
  ServeLocalAndRemote(pod->address6, /*v6=*/true);
}

// Kubernetes mode (xgate-test-apiserver in the node's namespace, deploy/ preloaded, the agent
// with --kubeconfig): the endpoints whose EndpointSlice nodeName is this node are the local
// ones. A recorded pod there is local (in xg_local_pods, in the route); one there without a
// record gets no flows and is reported; a recorded pod a slice puts on another node is
// reported; a slice change that makes them agree ends both reports.
TEST_F(LocalPodsTest, KubernetesModeNodeNamesAreCheckedAgainstTheRecords) {
  if (!Sh("command -v kubectl >/dev/null")) {
    if (e2e::PrivilegeRequired()) FAIL() << "kubectl is not installed (tools/setup)";
    GTEST_SKIP() << "kubectl is not installed";
  }
  auto here = AddPod(0), elsewhere = AddPod(1);
  ASSERT_TRUE(here.has_value() && elsewhere.has_value());
  const std::string unrecorded = "198.19.72.250";
  std::unique_ptr<kubetest::ServerProcess> server;
  ASSERT_TRUE(e2e::InNamespace(topology_->node(), [&] {
    server = std::make_unique<kubetest::ServerProcess>(
        std::vector<std::string>{"--preload", XGATE_DEPLOY_DIR});
    return server->Ready();
  })) << "xgate-test-apiserver did not start in the node's namespace";
  auto apply = [&](const std::vector<std::pair<std::string, std::string>>& endpoints) {
    std::string text =
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\n" + Manifest(endpoints);
    text.replace(text.find("v1alpha2"), 8, "v1");  // TCPRoute v1 (Gateway API 1.6)
    std::ofstream(work_ / "kube.yaml") << text;
    return Sh("ip netns exec " + topology_->node() + " kubectl --kubeconfig " +
              server->Kubeconfig("admin").string() + " apply -f " + (work_ / "kube.yaml").string() +
              " >/dev/null");
  };
  ASSERT_TRUE(apply({{here->address, Node()},
                     {unrecorded, Node()},
                     {elsewhere->address, "node-other"},
                     {kRemote.v4, ""}}));
  ASSERT_TRUE(agent_->Signal(SIGTERM));
  ASSERT_EQ(agent_->WaitForExit(), 0);
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--kubeconfig", server->Kubeconfig("agent").string()}));

  const std::set<std::string> both = {here->address, elsewhere->address};
  auto map_addresses = [&] {
    std::set<std::string> out;
    for (const auto& [a, ifindex] : LocalPodMap()) out.insert(a);
    return out;
  };
  EXPECT_TRUE(Eventually([&] { return map_addresses() == both; }));
  // The unrecorded endpoint on this node has no pod behind it: left out of the route.
  EXPECT_TRUE(Eventually([&] {
    return Backends() == std::set<std::string>{here->address, elsewhere->address, kRemote.v4};
  })) << Backends().size()
      << " backends";
  const std::set<std::string> want = {
      "no_record " + unrecorded + " default/pg-1 " + Node(),
      "other_node " + elsewhere->address + " default/pg-1 node-other"};
  EXPECT_TRUE(Eventually([&] { return Mismatches() == want; }))
      << Mismatches().size() << " mismatches";

  // The slice moves the pod to this node and drops the unrecorded endpoint: they agree.
  ASSERT_TRUE(apply({{here->address, Node()}, {elsewhere->address, Node()}, {kRemote.v4, ""}}));
  EXPECT_TRUE(Eventually([&] { return Mismatches().empty(); }));
  EXPECT_EQ(Backends(), (std::set<std::string>{here->address, elsewhere->address, kRemote.v4}));
  EXPECT_EQ(map_addresses(), both);
}

// The agent hears of an interface vanishing from rtnetlink (RTM_DELLINK), not from its
// resync (every 30 s): the pod loses its map entry and link well within a second.
TEST_F(LocalPodsTest, AnInterfaceGoneWithoutADelLeavesWithinHalfASecond) {
  auto gone = AddPod(0), stays = AddPod(1);
  ASSERT_TRUE(gone.has_value() && stays.has_value());
  ASSERT_TRUE(Eventually([&] { return LocalPodMap().size() == 2 && PodLinks().size() == 2; }))
      << LocalPodMap().size() << " entries, " << PodLinks().size() << " links";
  auto stays_links = PodLinks();
  auto listed = ListPods();
  ASSERT_TRUE(listed.has_value());
  for (const auto& p : listed->programmed()) {
    if (p.container_id() == gone->attachment.container_id) stays_links.erase(p.host_interface());
  }
  ASSERT_EQ(stays_links.size(), 1u);

  ASSERT_TRUE(Sh("ip -n " + gone->ns + " link del eth0"));  // the veth pair goes, no CNI DEL
  auto deleted = Clock::now();
  constexpr auto kBound = std::chrono::milliseconds(500);
  bool left = false;
  while (!left && Clock::now() - deleted < kBound) {
    left = !LocalPodMap().contains(gone->address) && PodLinks() == stays_links;
    if (!left) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(left) << "after " << kBound.count() << " ms the map has " << LocalPodMap().size()
                    << " entries and " << PodLinks().size() << " links are pinned";
  // The other pod is untouched; the record stays (only a DEL removes it) and says why.
  EXPECT_TRUE(LocalPodMap().contains(stays->address));
  listed = ListPods();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->attachments_size(), 2);
  for (const auto& p : listed->programmed()) {
    bool is_gone = p.container_id() == gone->attachment.container_id;
    EXPECT_EQ(p.problem().empty(), !is_gone) << p.container_id() << ": " << p.problem();
  }
}

// The EndpointSlices and the records disagree: an endpoint on this node by nodeName that no
// record has, and a recorded pod a slice puts on another node. Both are reported (the admin
// API, `xgatectl get pods`, one log line each) until they agree again.
TEST_F(LocalPodsTest, SlicesAndRecordsThatDisagreeAreReported) {
  auto here = AddPod(0), elsewhere = AddPod(1);
  ASSERT_TRUE(here.has_value() && elsewhere.has_value());
  const std::string unrecorded = "198.19.72.250";
  uint64_t before = WaitApplied();
  WriteManifest(Manifest(
      {{here->address, Node()}, {unrecorded, Node()}, {elsewhere->address, "node-other"}}));
  ASSERT_NE(e2e::AdminClient(Socket()).WaitApplied(before), 0u);
  auto mismatches = [&] { return Mismatches(); };
  const std::set<std::string> want = {
      "no_record " + unrecorded + " default/pg-1 " + Node(),
      "other_node " + elsewhere->address + " default/pg-1 node-other"};
  ASSERT_TRUE(Eventually([&] { return mismatches() == want; }))
      << "mismatches: " << mismatches().size();
  std::string table = Xgatectl("get pods");
  auto has_line = [&](const std::vector<std::string>& parts) {
    std::istringstream lines(table);
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const auto& part : parts) all &= line.find(part) != std::string::npos;
      if (all) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_line({"on this node, no CNI record", unrecorded, "default/pg-1", Node()}))
      << table;
  EXPECT_TRUE(has_line({"another node", elsewhere->address, "default/pg-1", "node-other"}))
      << table;

  // Another reload with the same disagreement logs nothing new; agreeing ends it.
  before = WaitApplied();
  WriteManifest(Manifest({{here->address, Node()},
                          {unrecorded, Node()},
                          {elsewhere->address, "node-other"},
                          {kRemote.v4, ""}}));
  ASSERT_NE(e2e::AdminClient(Socket()).WaitApplied(before), 0u);
  EXPECT_EQ(mismatches(), want);
  WriteManifest(Manifest({{here->address, Node()}, {elsewhere->address, Node()}}));
  EXPECT_TRUE(Eventually([&] { return mismatches().empty(); }));
  EXPECT_EQ(Xgatectl("get pods").find("DISAGREEMENT"), std::string::npos);
  std::string log = ReadFile(work_ / "agent-1.log");
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("local pods disagree: EndpointSlice default/pg-1 puts " + unrecorded), 1u) << log;
  EXPECT_EQ(count("local pods disagree: xgate-cni recorded " + elsewhere->address), 1u) << log;
  EXPECT_EQ(count("local pods agree again"), 2u) << log;
}

TEST_F(LocalPodsTest, ChurnRestartAndVanishedInterfacesLeaveTheMapAndLinksExact) {
  constexpr int kPods = 50, kWorkers = 4;
  std::vector<std::optional<LocalPod>> pods(kPods);
  auto burst = [&](const std::function<void(int)>& step) { RunInParallel(kPods, kWorkers, step); };
  std::mutex mu;
  burst([&](int i) {
    auto p = AddPod(i);
    std::lock_guard lock(mu);
    pods[i] = std::move(p);
  });
  std::set<std::string> addresses;
  for (const auto& p : pods) {
    ASSERT_TRUE(p.has_value());
    addresses.insert(p->address);
  }
  auto exact = [&](const std::set<std::string>& want) {
    auto map = LocalPodMap();
    std::set<std::string> have;
    for (const auto& [a, ifindex] : map) have.insert(a);
    return have == want && PodLinks() == PodVeths() && PodLinks().size() == want.size();
  };
  ASSERT_TRUE(Eventually([&] { return exact(addresses); }))
      << LocalPodMap().size() << " entries, " << PodLinks().size() << " links, "
      << PodVeths().size() << " veths";

  // Restart: the next agent adopts the links and the map as they are.
  auto links = PodLinks();
  ASSERT_TRUE(agent_->Signal(SIGTERM));
  ASSERT_EQ(agent_->WaitForExit(), 0);
  EXPECT_EQ(PodLinks(), links) << "SIGTERM took the pod links";
  EXPECT_EQ(LocalPodMap().size(), addresses.size());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  ASSERT_TRUE(Eventually([&] {
    auto listed = ListPods();
    return listed && listed->programmed_size() == kPods;
  }));
  EXPECT_TRUE(exact(addresses));
  EXPECT_NE(ReadFile(work_ / "agent-2.log").find("updated the tcx reverse NAT (pod) ingress link"),
            std::string::npos)
      << "the restarted agent did not adopt the pinned links";

  // Half the pods deleted in a burst, one interface removed without a DEL.
  burst([&](int i) {
    if (i % 2 == 0) {
      EXPECT_TRUE(net_->Del(pods[i]->attachment).ok) << i;
    }
  });
  std::set<std::string> left;
  for (int i = 1; i < kPods; i += 2) left.insert(pods[i]->address);
  ASSERT_TRUE(Eventually([&] { return exact(left); }));
  ASSERT_TRUE(Sh("ip -n " + pods[1]->ns + " link del eth0"));
  left.erase(pods[1]->address);
  EXPECT_TRUE(Eventually([&] { return exact(left); })) << "the vanished interface stayed";

  burst([&](int i) {
    if (i % 2 == 1) {
      EXPECT_TRUE(net_->Del(pods[i]->attachment).ok) << i;
    }
  });
  EXPECT_TRUE(Eventually([&] { return exact({}); }));
  EXPECT_TRUE(PodVeths().empty());
}

}  // namespace
}  // namespace xgate::cni_test
