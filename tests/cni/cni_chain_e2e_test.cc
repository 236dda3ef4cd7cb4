// xgate-cni chained after Debian's containernetworking-plugins (bridge + host-local, and ptp),
// run as a runtime runs a conflist (tests/cni/cni_runtime.h) inside a "node" network namespace
// the test makes, with pods as namespaces the test makes; the real xgate-agent in the node
// namespace, up, down or restarted, receives the records.
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "api/admin.grpc.pb.h"
#include "tests/cni/cni_runtime.h"
#include "tests/e2e_agent_l4/agent_process.h"
#include "tests/netns/netns.h"

namespace xgate::cni_test {
namespace {

namespace fs = std::filesystem;
using e2e::AgentProcess;
using e2e::Sh;
using Clock = std::chrono::steady_clock;

constexpr char kDebianCniDir[] = "/usr/lib/cni";

// Every file under `dir` with its content: what "nothing changed" compares.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::end(it); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path());
    out[it->path().string()] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

size_t CountFiles(const fs::path& dir) { return Snapshot(dir).size(); }

class CniChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (e2e::PrivilegeRequired()) FAIL() << "needs root (network namespaces)";
      GTEST_SKIP() << "needs root (network namespaces)";
    }
    if (access((std::string(kDebianCniDir) + "/bridge").c_str(), X_OK) != 0) {
      if (e2e::PrivilegeRequired()) FAIL() << "containernetworking-plugins is not installed";
      GTEST_SKIP() << "containernetworking-plugins is not installed (tools/setup)";
    }
    static int serial = 0;
    suffix_ = std::to_string(getpid() % 100000) + std::to_string(++serial);
    node_ = "xcn" + suffix_;
    bridge_ = "xcb" + suffix_;
    work_ = fs::temp_directory_path() / ("xgate-cni-e2e-" + suffix_);
    fs::remove_all(work_);
    fs::create_directories(work_ / "manifests");
    ASSERT_TRUE(Sh("ip netns add " + node_));
    ASSERT_TRUE(Sh("ip -n " + node_ + " link set lo up"));
    bridge_net_ = std::make_unique<CniRuntime>(Conflist("bridge"), CniPath(), node_);
    ptp_net_ = std::make_unique<CniRuntime>(Conflist("ptp"), CniPath(), node_);
  }

  void TearDown() override {
    agent_.reset();
    for (const auto& pod : pods_) Sh("ip netns del " + pod);
    Sh("ip -n " + node_ + " link del " + bridge_);
    Sh("ip netns del " + node_);
    fs::remove_all(work_);
  }

  std::vector<std::string> CniPath() const { return {kDebianCniDir, XGATE_CNI_DIR}; }
  std::string Network(const std::string& primary) const {
    return "xgate-e2e-" + primary + "-" + suffix_;
  }
  fs::path StateDir() const { return work_ / "state"; }
  fs::path Socket() const { return work_ / "admin.sock"; }

  // The node's conflist: the primary plugin, then xgate-cni. Addresses from 198.18.0.0/15.
  Json Conflist(const std::string& primary, const std::string& version = "1.0.0") const {
    Json ipam = {{"type", "host-local"}, {"dataDir", (work_ / "ipam").string()}};
    Json first = {{"type", primary}, {"ipMasq", false}};
    if (primary == "bridge") {
      first["bridge"] = bridge_;
      first["isGateway"] = true;
      ipam["ranges"] = Json::array({Json::array({{{"subnet", "198.19.64.0/22"}}})});
    } else {
      ipam["ranges"] = Json::array({Json::array({{{"subnet", "198.19.72.0/24"}}})});
    }
    first["ipam"] = ipam;
    Json plugins = Json::array({first, XgateCni()});
    if (version != "1.0.0") plugins = Json::array({XgateCni()});
    return {{"cniVersion", version}, {"name", Network(primary)}, {"plugins", plugins}};
  }
  Json XgateCni() const {
    return {{"type", "xgate-cni"},
            {"stateDir", StateDir().string()},
            {"adminSocket", Socket().string()}};
  }

  Attachment NewPod(int i) {
    std::string name = "xcp" + suffix_ + "-" + std::to_string(i);
    EXPECT_TRUE(Sh("ip netns add " + name));
    pods_.push_back(name);
    return {"pod-" + suffix_ + "-" + std::to_string(i), "/run/netns/" + name, "eth0"};
  }

  void StartAgent() {
    agent_.reset();
    agent_ = AgentProcess::Start(node_,
                                 {"--manifests", (work_ / "manifests").string(), "--admin-socket",
                                  Socket().string(), "--cni-state-dir", StateDir().string()},
                                 work_ / ("agent-" + std::to_string(++agents_) + ".log"));
    ASSERT_NE(agent_, nullptr);
    for (auto end = Clock::now() + e2e::kDeadline; Clock::now() < end;) {
      if (ListPods()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the agent never answered on " << Socket();
  }
  void StopAgent() {
    ASSERT_TRUE(agent_->Signal(SIGTERM));
    EXPECT_EQ(agent_->WaitForExit(), 0);
    agent_.reset();
  }

  // What the agent holds, asked once; nullopt when it does not answer.
  std::optional<std::vector<api::PodAttachment>> ListPods() const {
    auto stub = api::Admin::NewStub(
        grpc::CreateChannel("unix:" + Socket().string(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    api::ListPodAttachmentsResponse response;
    if (!stub->ListPodAttachments(&context, {}, &response).ok()) return std::nullopt;
    return std::vector<api::PodAttachment>(response.attachments().begin(),
                                           response.attachments().end());
  }
  std::set<std::string> AgentContainers() const {
    std::set<std::string> out;
    auto pods = ListPods();
    EXPECT_TRUE(pods.has_value()) << "the agent does not answer";
    for (const auto& p : pods.value_or(std::vector<api::PodAttachment>{})) {
      out.insert(p.container_id());
    }
    return out;
  }

  fs::path RecordFile(const std::string& primary, const Attachment& a) const {
    return StateDir() / Network(primary) / (a.container_id + ":" + a.ifname + ".json");
  }

  std::string suffix_, node_, bridge_;
  fs::path work_;
  std::vector<std::string> pods_;
  std::unique_ptr<CniRuntime> bridge_net_, ptp_net_;
  std::unique_ptr<AgentProcess> agent_;
  int agents_ = 0;
};

// The pod's address as the primary plugin's result gives it (the sandboxed interface's).
std::string PodAddress(const Json& result) {
  for (const auto& ip : result.at("ips")) {
    size_t idx = ip.at("interface");
    if (result.at("interfaces").at(idx).contains("sandbox")) {
      std::string cidr = ip.at("address");
      return cidr.substr(0, cidr.find('/'));
    }
  }
  return "";
}

TEST_F(CniChainTest, AddCheckDelWithTheAgentUp) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  int i = 0;
  for (auto [primary, net] : {std::pair{"bridge", bridge_net_.get()}, {"ptp", ptp_net_.get()}}) {
    SCOPED_TRACE(primary);
    Attachment pod = NewPod(i++);
    ChainRun add = net->Add(pod);
    ASSERT_TRUE(add.ok) << add.plugin << ": " << add.last.out << add.last.err;
    ASSERT_EQ(add.runs.size(), 2u);
    // prevResult passed through unchanged: same keys, same order, same values.
    EXPECT_EQ(Json::parse(add.runs[1].out), Json::parse(add.runs[0].out));
    EXPECT_EQ(Json::parse(add.runs[1].out).dump(), Json::parse(add.runs[0].out).dump());

    // The agent has it at once: told over the socket, not by reading the folder (it reads
    // that only at start).
    auto pods = ListPods();
    ASSERT_TRUE(pods.has_value());
    ASSERT_EQ(pods->size(), 1u);
    const api::PodAttachment& seen = pods->front();
    EXPECT_EQ(seen.network(), Network(primary));
    EXPECT_EQ(seen.container_id(), pod.container_id);
    EXPECT_EQ(seen.ifname(), "eth0");
    EXPECT_EQ(seen.netns(), pod.netns_path);
    ASSERT_EQ(seen.addresses_size(), 1);
    EXPECT_EQ(seen.addresses(0), PodAddress(add.result));
    EXPECT_TRUE(Sh("ip -n " + pods_.back() + " -4 addr show eth0 | grep -q 'inet " +
                   seen.addresses(0) + "/'"));
    // Each host interface it names is there in the node namespace.
    ASSERT_GE(seen.host_interfaces_size(), 1);
    for (const auto& ifname : seen.host_interfaces()) {
      EXPECT_TRUE(Sh("ip -n " + node_ + " link show dev " + ifname)) << ifname;
    }
    if (std::string(primary) == "bridge") {
      EXPECT_EQ(seen.host_interfaces(0), bridge_);
    }
    ASSERT_TRUE(fs::exists(RecordFile(primary, pod)));

    ChainRun check = net->Check(pod);
    EXPECT_TRUE(check.ok) << check.plugin << ": " << check.last.out;
    // A record that no longer matches fails CHECK with xgate-cni's own code.
    std::string kept = Snapshot(StateDir()).at(RecordFile(primary, pod).string());
    Json tampered = Json::parse(kept);
    tampered["addresses"] = {"198.18.99.99"};
    std::ofstream(RecordFile(primary, pod)) << tampered.dump();
    ChainRun bad = net->Check(pod);
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.plugin, "xgate-cni");
    EXPECT_EQ(Json::parse(bad.last.out).at("code"), 101) << bad.last.out;
    std::ofstream(RecordFile(primary, pod)) << kept;
    EXPECT_TRUE(net->Check(pod).ok);

    ChainRun del = net->Del(pod);
    ASSERT_TRUE(del.ok) << del.plugin << ": " << del.last.out << del.last.err;
    EXPECT_TRUE(AgentContainers().empty());
    EXPECT_FALSE(fs::exists(RecordFile(primary, pod)));
    // DEL again (idempotent), and DEL of a pod never added: both succeed.
    EXPECT_TRUE(net->Del(pod).ok);
    EXPECT_TRUE(net->Del({"never-added-" + suffix_, pod.netns_path, "eth0"}).ok);
  }
}

TEST_F(CniChainTest, AddSucceedsWithTheAgentDownAndTheAgentReadsTheRecordAtStart) {
  Attachment kept = NewPod(0), gone = NewPod(1);
  ASSERT_TRUE(bridge_net_->Add(kept).ok);
  ASSERT_TRUE(bridge_net_->Add(gone).ok);
  ChainRun check = bridge_net_->Check(kept);
  EXPECT_TRUE(check.ok) << check.last.out;
  ASSERT_TRUE(bridge_net_->Del(gone).ok);  // also while the agent is down
  EXPECT_EQ(CountFiles(StateDir()), 1u);

  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_EQ(AgentContainers(), std::set<std::string>{kept.container_id});
  ASSERT_TRUE(bridge_net_->Del(kept).ok);
  EXPECT_TRUE(AgentContainers().empty());
  EXPECT_EQ(CountFiles(StateDir()), 0u);
}

TEST_F(CniChainTest, AgentRestartedBetweenAddAndDel) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  Attachment a = NewPod(0), b = NewPod(1);
  ASSERT_TRUE(bridge_net_->Add(a).ok);
  ASSERT_TRUE(bridge_net_->Add(b).ok);
  EXPECT_EQ(AgentContainers(), (std::set<std::string>{a.container_id, b.container_id}));
  ASSERT_NO_FATAL_FAILURE(StopAgent());
  ASSERT_TRUE(bridge_net_->Del(b).ok);  // while it is down
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_EQ(AgentContainers(), std::set<std::string>{a.container_id});
  ASSERT_TRUE(bridge_net_->Check(a).ok);
  ASSERT_TRUE(bridge_net_->Del(a).ok);
  EXPECT_TRUE(AgentContainers().empty());
  // Killed outright this time, with a pod on: the next agent still finds it.
  Attachment c = NewPod(2);
  ASSERT_TRUE(bridge_net_->Add(c).ok);
  agent_.reset();  // SIGKILL
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_EQ(AgentContainers(), std::set<std::string>{c.container_id});
  ASSERT_TRUE(bridge_net_->Del(c).ok);
  EXPECT_TRUE(AgentContainers().empty());
}

TEST_F(CniChainTest, TwoHundredPodsAddedAndDeletedInABurst) {
  constexpr int kPods = 200, kWorkers = 8;
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  std::vector<Attachment> pods;
  for (int i = 0; i < kPods; ++i) pods.push_back(NewPod(i));
  std::vector<ChainRun> adds(kPods);
  auto burst = [&](const std::function<void(int)>& step) { RunInParallel(kPods, kWorkers, step); };
  burst([&](int i) { adds[i] = bridge_net_->Add(pods[i]); });
  std::set<std::string> want, addresses;
  for (int i = 0; i < kPods; ++i) {
    ASSERT_TRUE(adds[i].ok) << i << " " << adds[i].plugin << ": " << adds[i].last.out;
    want.insert(pods[i].container_id);
    addresses.insert(PodAddress(adds[i].result));
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kPods));
  // The records follow exactly: in the agent and in the folder.
  auto held = ListPods();
  ASSERT_TRUE(held.has_value());
  std::set<std::string> held_containers, held_addresses;
  for (const auto& p : *held) {
    held_containers.insert(p.container_id());
    for (const auto& a : p.addresses()) held_addresses.insert(a);
  }
  EXPECT_EQ(held_containers, want);
  EXPECT_EQ(held_addresses, addresses);
  EXPECT_EQ(CountFiles(StateDir()), static_cast<size_t>(kPods));

  std::vector<ChainRun> dels(kPods);
  burst([&](int i) { dels[i] = bridge_net_->Del(pods[i]); });
  for (int i = 0; i < kPods; ++i) ASSERT_TRUE(dels[i].ok) << i << ": " << dels[i].last.out;
  EXPECT_TRUE(AgentContainers().empty());
  EXPECT_EQ(CountFiles(StateDir()), 0u);
  // Nothing left: no veth in the node namespace, no address held by host-local.
  EXPECT_TRUE(Sh("test -z \"$(ip -n " + node_ + " -o link show type veth)\""));
  for (const auto& [path, content] : Snapshot(work_ / "ipam")) {
    EXPECT_TRUE(path.ends_with("last_reserved_ip.0") || path.ends_with("lock")) << path;
  }
}

TEST_F(CniChainTest, BadInputGetsACniErrorAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  Attachment pod = NewPod(0);
  ASSERT_TRUE(bridge_net_->Add(pod).ok);
  auto before = Snapshot(StateDir());
  ASSERT_EQ(before.size(), 1u);
  std::string xgate = bridge_net_->PluginPath("xgate-cni");
  ASSERT_FALSE(xgate.empty());
  Json conf = XgateCni();
  conf["name"] = Network("bridge");
  conf["cniVersion"] = "1.0.0";
  conf["prevResult"] = Json::parse(R"({"cniVersion":"1.0.0","interfaces":[],"ips":[]})");
  Attachment other{"other-" + suffix_, pod.netns_path, "eth1"};
  auto env = bridge_net_->Env("ADD", &other);
  auto without = [&](const std::string& name) {
    auto e = env;
    e.erase(name);
    return e;
  };
  Json unknown_version = conf;
  unknown_version["cniVersion"] = "9.9.9";
  Json no_prev = conf;
  no_prev.erase("prevResult");
  struct Case {
    const char* what;
    std::map<std::string, std::string> env;
    std::string stdin_text;
    int code;
  } cases[] = {
      {"garbage on stdin", env, "{not json", 6},
      {"an array on stdin", env, "[1,2]", 6},
      {"unknown cniVersion", env, unknown_version.dump(), 1},
      {"no CNI_CONTAINERID", without("CNI_CONTAINERID"), conf.dump(), 4},
      {"no CNI_NETNS", without("CNI_NETNS"), conf.dump(), 4},
      {"no CNI_IFNAME", without("CNI_IFNAME"), conf.dump(), 4},
      {"no CNI_PATH", without("CNI_PATH"), conf.dump(), 4},
      {"no CNI_COMMAND", without("CNI_COMMAND"), conf.dump(), 4},
      {"a container id with a slash",
       [&] {
         auto e = env;
         e["CNI_CONTAINERID"] = "../x";
         return e;
       }(),
       conf.dump(), 4},
      {"no prevResult", env, no_prev.dump(), 7},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    PluginRun run = ExecPlugin(xgate, node_, c.env, c.stdin_text);
    EXPECT_NE(run.exit_code, 0);
    Json err = Json::parse(run.out, nullptr, false);
    ASSERT_TRUE(err.is_object()) << run.out;
    EXPECT_EQ(err.at("code"), c.code) << run.out;
    EXPECT_TRUE(err.at("cniVersion").is_string());
    EXPECT_FALSE(err.at("msg").get<std::string>().empty());
    EXPECT_TRUE(err.contains("details"));
    EXPECT_EQ(Snapshot(StateDir()), before);
    EXPECT_EQ(AgentContainers(), std::set<std::string>{pod.container_id});
  }
  // The admin call itself refuses a name xgate-cni would not write.
  auto stub = api::Admin::NewStub(
      grpc::CreateChannel("unix:" + Socket().string(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  api::ReportPodAttachmentRequest event;
  event.mutable_added()->set_network(Network("bridge"));
  event.mutable_added()->set_container_id("../x");
  event.mutable_added()->set_ifname("eth0");
  api::ReportPodAttachmentResponse response;
  EXPECT_EQ(stub->ReportPodAttachment(&context, event, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(AgentContainers(), std::set<std::string>{pod.container_id});
  ASSERT_TRUE(bridge_net_->Del(pod).ok);
}

// Debian's plugins speak CNI up to 1.0.0, which has no STATUS or GC: those go to xgate-cni
// alone, under the same network name, at 1.1.0.
TEST_F(CniChainTest, StatusAndGc) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  CniRuntime v11(Conflist("bridge", "1.1.0"), CniPath(), node_);
  ChainRun status = v11.Status();
  EXPECT_TRUE(status.ok) << status.last.out;
  EXPECT_TRUE(status.last.out.empty());
  // 1.0.0 has no STATUS.
  ChainRun old = bridge_net_->Status();
  EXPECT_FALSE(old.ok);

  std::vector<Attachment> pods = {NewPod(0), NewPod(1), NewPod(2)};
  for (const auto& p : pods) ASSERT_TRUE(bridge_net_->Add(p).ok);
  ChainRun gc = v11.Gc({pods[0], pods[2]});
  ASSERT_TRUE(gc.ok) << gc.last.out;
  EXPECT_EQ(AgentContainers(), (std::set<std::string>{pods[0].container_id, pods[2].container_id}));
  EXPECT_FALSE(fs::exists(RecordFile("bridge", pods[1])));
  EXPECT_EQ(CountFiles(StateDir()), 2u);
  // A GC without the list is refused and removes nothing.
  PluginRun bad = v11.Invoke(XgateCni(), v11.Env("GC", nullptr), Json::object());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(Json::parse(bad.out).at("code"), 7);
  EXPECT_EQ(CountFiles(StateDir()), 2u);
  // With the agent down, STATUS still says ready: ADD does not need it.
  ASSERT_NO_FATAL_FAILURE(StopAgent());
  EXPECT_TRUE(v11.Status().ok);
  for (const auto& p : pods) EXPECT_TRUE(bridge_net_->Del(p).ok);
  EXPECT_EQ(CountFiles(StateDir()), 0u);
}

// The node set up as deploy/ does it: the primary plugin's own single-plugin *.conf, then
// xgate-cni-install (the real binary) copies the plugin into a bin folder of the node and
// chains it; the runtime reads the folder as it would and pods are recorded; uninstalling
// gives back the node's file byte for byte.
TEST_F(CniChainTest, NodeSetUpByXgateCniInstall) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  fs::path conf_dir = work_ / "net.d", bin_dir = work_ / "bin";
  fs::create_directories(conf_dir);
  Json primary = Conflist("ptp");
  Json single = primary["plugins"][0];
  single["cniVersion"] = primary["cniVersion"];
  single["name"] = primary["name"];
  const std::string original = single.dump(2) + "\n";
  std::ofstream(conf_dir / "10-ptp.conf") << original;
  const std::string install = std::string(XGATE_CNI_INSTALL_PATH) + " --cni-conf-dir " +
                              conf_dir.string() + " --cni-bin-dir " + bin_dir.string() +
                              " --plugin " + XGATE_CNI_DIR + "/xgate-cni --state-dir " +
                              StateDir().string() + " --admin-socket " + Socket().string();
  ASSERT_TRUE(Sh(install));
  ASSERT_TRUE(Sh(install)) << "a second run is a no-op";
  ASSERT_TRUE(fs::exists(conf_dir / "10-ptp.conflist"));

  std::ifstream in(conf_dir / "10-ptp.conflist");
  Json chained = Json::parse(in);
  EXPECT_EQ(chained, primary);
  CniRuntime node(chained, {kDebianCniDir, bin_dir.string()}, node_);
  EXPECT_EQ(node.PluginPath("xgate-cni"), (bin_dir / "xgate-cni").string());
  Attachment pod = NewPod(0);
  ChainRun add = node.Add(pod);
  ASSERT_TRUE(add.ok) << add.plugin << ": " << add.last.out << add.last.err;
  EXPECT_EQ(AgentContainers(), std::set<std::string>{pod.container_id});
  EXPECT_TRUE(fs::exists(RecordFile("ptp", pod)));
  ASSERT_TRUE(node.Del(pod).ok);
  EXPECT_TRUE(AgentContainers().empty());

  ASSERT_TRUE(Sh(std::string(XGATE_CNI_INSTALL_PATH) + " --uninstall --cni-conf-dir " +
                 conf_dir.string() + " --cni-bin-dir " + bin_dir.string()));
  EXPECT_EQ(Snapshot(conf_dir),
            (std::map<std::string, std::string>{{(conf_dir / "10-ptp.conf").string(), original}}));
  EXPECT_FALSE(fs::exists(bin_dir / "xgate-cni"));
}

}  // namespace
}  // namespace xgate::cni_test
