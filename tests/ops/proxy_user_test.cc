// xgate-agent --proxy-user: the real agent, run with the DaemonSet's capabilities (setpriv
// keeps in its bounding set what deploy/03-daemonset.yaml adds: no DAC_OVERRIDE, as in the
// container), starts xgate-proxy as `nobody`: the proxy's /proc/PID/status shows that uid and
// gid and only three capabilities, it serves an HTTP route on loopback, and the agent still
// reads its stats socket (xgate_proxy_up 1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "tests/agent/agent_process.h"
#include "tests/agent/prometheus_text.h"
#include "tests/fixtures/fixtures.h"
#include "tests/netns/netns.h"
#include "tests/proxy/test_util.h"

namespace xgate {
namespace {

namespace fs = std::filesystem;
using proxy::testing::ProcStatus;
using ::testing::HasSubstr;
using testing::ParsePromText;

// setpriv's --bounding-set for the agent container's capabilities.add in
// deploy/03-daemonset.yaml (its first `add: [...]`), so the test runs what the DaemonSet grants.
std::string DaemonSetBoundingSet() {
  std::string yaml = fixtures::ReadFile(XGATE_DEPLOY_DIR "/03-daemonset.yaml");
  std::smatch match;
  if (!std::regex_search(yaml, match, std::regex(R"(add: \[([A-Z_, ]+)\])"))) return "";
  std::string out = "--bounding-set=-all";
  for (absl::string_view cap : absl::StrSplit(match[1].str(), ", ")) {
    out += ",+" + absl::AsciiStrToLower(cap);
  }
  return out;
}

class ProxyUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (e2e::PrivilegeRequired()) FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << "needs root";
    }
    bounding_set_ = DaemonSetBoundingSet();
    ASSERT_THAT(bounding_set_, HasSubstr(",+chown,+setuid,+setgid")) << "deploy/03-daemonset.yaml";
    passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr) << "no user nobody";
    uid_ = nobody->pw_uid;
    gid_ = nobody->pw_gid;
    // Searchable by the proxy's user, as the DaemonSet's /run/xgate (0755) is.
    fs::permissions(tmp_.path(), fs::perms::owner_all | fs::perms::group_exec |
                                     fs::perms::group_read | fs::perms::others_exec |
                                     fs::perms::others_read);
    manifests_ = tmp_.path() / "manifests";
    fs::create_directory(manifests_);
    http_port_ = proxy::testing::FreePort();
    metrics_port_ = proxy::testing::FreePort();
    fixtures::WriteFile(manifests_ / "class.yaml", fixtures::AcmeGatewayClassYaml());
    fixtures::WriteFile(
        manifests_ / "app.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: edge, namespace: default}\n"
        "spec:\n"
        "  gatewayClassName: acme-lb\n"
        "  addresses: [{type: IPAddress, value: 127.0.0.1}]\n"
        "  listeners: [{name: http, protocol: HTTP, port: " +
            std::to_string(http_port_) +
            "}]\n"
            "---\n"
            "apiVersion: gateway.networking.k8s.io/v1\n"
            "kind: HTTPRoute\n"
            "metadata: {name: web, namespace: default}\n"
            "spec:\n"
            "  parentRefs: [{name: edge}]\n"
            "  rules: [{backendRefs: [{name: web, port: 8080}]}]\n"
            "---\n" +
            fixtures::ServiceYaml("default", "web", 8080, "127.0.0.1", upstream_.port()));
  }

  void TearDown() override {
    pid_t proxy = ProxyPid();
    agent_.reset();  // SIGTERM; --detach-on-exit stops the proxy too
    if (proxy > 0 && kill(proxy, 0) == 0) kill(proxy, SIGKILL);
  }

  void StartAgent(const std::string& user) {
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{
            bounding_set_, "--", XGATE_AGENT_BINARY, "--manifests", manifests_.string(),
            "--admin-socket", (tmp_.path() / "admin.sock").string(), "--metrics-addr",
            "127.0.0.1:" + std::to_string(metrics_port_), "--proxy-user", user, "--detach-on-exit"},
        tmp_.path() / "agent.log");
  }

  pid_t ProxyPid() const {
    std::ifstream in(tmp_.path() / "proxy" / "proxy.sock.proxy-pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  fixtures::TempDir tmp_;
  fs::path manifests_;
  proxy::testing::TestUpstream upstream_{"web"};
  uint16_t http_port_ = 0, metrics_port_ = 0;
  std::string bounding_set_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ProxyUserTest, ProxyRunsAsTheUserWithThreeCapabilitiesAndServes) {
  StartAgent("nobody");
  ASSERT_TRUE(agent_->WaitForLog("started xgate-proxy")) << agent_->Log();

  // Served through the proxy, and its stats read by the agent (through the folder's group).
  bool served = false, scraped = false;
  for (auto end = std::chrono::steady_clock::now() + kDeadline;
       std::chrono::steady_clock::now() < end && !(served && scraped);
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    if (!served)
      served = proxy::testing::Get(http_port_, "web.example.com", "/hello").status == 200;
    if (served && !scraped) {
      scraped = ParsePromText(testing::ScrapeLoopback(metrics_port_)).Sum("xgate_proxy_up") == 1;
    }
  }
  ASSERT_TRUE(served) << agent_->Log();
  EXPECT_TRUE(scraped) << testing::ScrapeLoopback(metrics_port_) << agent_->Log();
  auto requests = upstream_.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().path, "/hello");

  pid_t proxy = ProxyPid();
  ASSERT_GT(proxy, 0) << agent_->Log();
  auto status = ProcStatus(proxy);
  std::string uid = std::to_string(uid_), gid = std::to_string(gid_);
  EXPECT_EQ(status["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(status["Gid"], gid + "\t" + gid + "\t" + gid + "\t" + gid);
  EXPECT_EQ(status["Groups"], "");
  // CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_BPF (39): nothing else.
  EXPECT_EQ(status["CapEff"], "0000008000001400");
  EXPECT_EQ(status["CapPrm"], "0000008000001400");
  EXPECT_EQ(status["CapInh"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");

  // Its folder: the user's, the agent's group, setgid; the config socket the user's only.
  struct stat folder {};
  ASSERT_EQ(stat((tmp_.path() / "proxy").c_str(), &folder), 0);
  EXPECT_EQ(folder.st_uid, uid_);
  EXPECT_EQ(folder.st_gid, 0u);
  EXPECT_EQ(folder.st_mode & 07777, 02770u);
  struct stat config {};
  ASSERT_EQ(stat((tmp_.path() / "proxy" / "proxy.sock").c_str(), &config), 0);
  EXPECT_EQ(config.st_uid, uid_);
  EXPECT_EQ(config.st_mode & 0777, 0600u);
}

TEST_F(ProxyUserTest, UnknownUserIsRefusedNamingTheFlag) {
  StartAgent("no-such-user-xgate");
  EXPECT_GT(agent_->WaitForExit(), 0) << agent_->Log();
  EXPECT_THAT(agent_->Log(), HasSubstr("--proxy-user no-such-user-xgate: no such user"));
}

// A folder the proxy's user cannot pass through (mktemp's 0700, say) is named at start, instead
// of a proxy that cannot reach its sockets and an agent waiting for it.
TEST_F(ProxyUserTest, AFolderTheUserCannotReachIsRefusedNamingIt) {
  fs::permissions(tmp_.path(), fs::perms::owner_all);
  StartAgent("nobody");
  EXPECT_GT(agent_->WaitForExit(), 0) << agent_->Log();
  EXPECT_THAT(agent_->Log(), HasSubstr(tmp_.path().string() + " is not searchable by uid " +
                                       std::to_string(uid_)));
}

}  // namespace
}  // namespace xgate
