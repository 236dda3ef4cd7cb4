// xgatectl as the kubectl plugin `kubectl xgate` (kubectl 1.32 from PATH, the build folder
// first on PATH so kubectl finds kubectl-xgate), against a real agent on the seed manifests
// plus a labelled route: get by name and label, -n, -o wide, explain request, kubectl's
// completion of the plugin, and xgatectl's bash completion script.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/agent/agent_process.h"
#include "tests/cli/run_command.h"
#include "tests/fixtures/fixtures.h"

namespace xgate {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using testing_cli::CommandResult;
using testing_cli::RunCommand;

// kubectl with the build folder first on PATH and no cluster (the plugin needs none).
CommandResult Kubectl(const std::string& args) {
  return RunCommand("env PATH=" XGATE_BUILD_DIR ":\"$PATH\" KUBECONFIG=/dev/null kubectl " + args);
}

class KubectlPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "no kubectl on PATH";
    fs::path manifests = tmp_.path() / "manifests";
    fs::create_directory(manifests);
    fixtures::WriteSeedV1(manifests);
    fixtures::WriteFile(manifests / "baz.yaml",
                        "apiVersion: gateway.networking.k8s.io/v1\n"
                        "kind: HTTPRoute\n"
                        "metadata:\n"
                        "  name: baz\n"
                        "  namespace: foo\n"
                        "  labels: {team: baz, tier: edge}\n"
                        "spec:\n"
                        "  parentRefs: [{name: prod-web, namespace: default}, {name: edge}]\n"
                        "  hostnames: [baz.example.com]\n"
                        "  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]\n");
    // A Gateway with its own address, so `explain request` has a listener without --attach.
    fixtures::WriteFile(manifests / "edge.yaml",
                        "apiVersion: gateway.networking.k8s.io/v1\n"
                        "kind: Gateway\n"
                        "metadata: {name: edge, namespace: foo}\n"
                        "spec:\n"
                        "  gatewayClassName: acme-lb\n"
                        "  addresses: [{type: IPAddress, value: 198.18.0.1}]\n"
                        "  listeners: [{name: http, protocol: HTTP, port: 8080}]\n");
    socket_ = (tmp_.path() / "admin.sock").string();
    agent_ = std::make_unique<AgentProcess>(
        // --detach-on-exit: the agent stops its proxy when the test ends it (without it the
        // proxy outlives the agent, as it does on a node across agent restarts).
        std::vector<std::string>{"--manifests", manifests.string(), "--admin-socket", socket_,
                                 "--detach-on-exit"},
        tmp_.path() / "agent.log");
    ASSERT_TRUE(agent_->WaitForLog("admin API on")) << agent_->Log();
    ASSERT_TRUE(agent_->WaitForLog("snapshot 1 applied")) << agent_->Log();
  }

  // `kubectl xgate ARGS` on this agent's socket, named with kubectl's -s.
  CommandResult Xgate(const std::string& args) {
    return Kubectl("xgate " + args + " -s unix://" + socket_);
  }

  fixtures::TempDir tmp_;
  std::string socket_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(KubectlPlugin, GetRoutesAllByNameAndByLabel) {
  auto all = Xgate("get routes");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_THAT(all.output, ContainsRegex("HTTPRoute +foo +baz +baz.example.com +default/prod-web"));
  EXPECT_THAT(all.output, HasSubstr("foo-route"));
  EXPECT_THAT(all.output, HasSubstr("bar-route"));

  auto by_name = Xgate("get routes baz -o json");
  ASSERT_EQ(by_name.exit_code, 0) << by_name.output;
  auto object = nlohmann::json::parse(by_name.output);
  EXPECT_EQ(object["kind"], "HTTPRoute");
  EXPECT_EQ(object["metadata"]["name"], "baz");

  auto by_label = Xgate("get routes -l team=baz,tier!=core --no-headers");
  ASSERT_EQ(by_label.exit_code, 0) << by_label.output;
  EXPECT_THAT(by_label.output, ContainsRegex("^HTTPRoute +foo +baz "));
  EXPECT_THAT(by_label.output, Not(HasSubstr("foo-route")));
  EXPECT_THAT(by_label.output, Not(HasSubstr("NAMESPACE")));

  auto none = Xgate("get routes -l team=nobody");
  EXPECT_EQ(none.exit_code, 0) << none.output;
  EXPECT_THAT(none.output, HasSubstr("No resources found"));

  auto missing = Xgate("get routes nope -n foo");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("routes \"nope\" not found in namespace foo"));

  auto bad = Xgate("get routes -l 'team in (a'");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("-l unable to parse requirement"));
}

TEST_F(KubectlPlugin, WideAndNamespace) {
  auto routes = Xgate("get routes -o wide -n foo");
  ASSERT_EQ(routes.exit_code, 0) << routes.output;
  EXPECT_THAT(routes.output, ContainsRegex("RESOLVEDREFS +RULES +BACKENDS"));
  EXPECT_THAT(routes.output, ContainsRegex("baz .* 1 +foo/foo-home:8080"));
  EXPECT_THAT(routes.output, Not(HasSubstr("bar-route")));

  auto gateways = Xgate("get gateways -o=wide");
  ASSERT_EQ(gateways.exit_code, 0) << gateways.output;
  EXPECT_THAT(gateways.output, ContainsRegex("PORTS +ATTACHED ROUTES"));
  EXPECT_THAT(gateways.output, ContainsRegex("prod-web .*https:HTTPS/443"));
}

TEST_F(KubectlPlugin, ExplainRequest) {
  auto r = Xgate("explain request --listener 198.18.0.1:8080 --host baz.example.com --path /");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Route:     HTTPRoute foo/baz rule 0"));
  EXPECT_THAT(r.output, HasSubstr("foo/foo-home"));
}

TEST(KubectlPluginCompletion, KubectlCompletesThePlugin) {
  if (RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "no kubectl on PATH";
  auto r = Kubectl("__complete xgate get ro");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ContainsRegex("(^|\n)routes\n:4\n"));
  r = Kubectl("__complete xgate ex");
  EXPECT_THAT(r.output, ContainsRegex("(^|\n)explain\n:4\n"));
}

// The script as bash loads it: `complete -p` shows it bound, and its function gives the
// candidates compgen picks for the word at the cursor.
TEST(KubectlPluginCompletion, BashCompletionScript) {
  std::string script = "source <(" XGATECTL_PATH
                       " completion bash) || exit 9\n"
                       "complete -p xgatectl kubectl-xgate\n"
                       "complete_at() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _xgatectl;\n"
                       "  echo \"[$*] -> ${COMPREPLY[*]}\"; }\n"
                       "complete_at " XGATECTL_PATH
                       " g\n"
                       "complete_at " XGATECTL_PATH
                       " get ''\n"
                       "complete_at " XGATECTL_PATH
                       " get routes -o ''\n"
                       "complete_at " XGATECTL_PATH
                       " explain packet --pr\n"
                       "complete_at " XGATECTL_PATH " explain packet --proto ''\n";
  fixtures::TempDir tmp;
  fixtures::WriteFile(tmp.path() / "complete.sh", script);
  auto r = RunCommand("bash " + (tmp.path() / "complete.sh").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("complete -F _xgatectl xgatectl"));
  EXPECT_THAT(r.output, HasSubstr("complete -F _xgatectl kubectl-xgate"));
  EXPECT_THAT(r.output, HasSubstr(" g] -> get\n"));
  EXPECT_THAT(r.output,
              HasSubstr(" get ] -> gateways routes backends status conntrack counters pods\n"));
  EXPECT_THAT(r.output, HasSubstr(" -o ] -> json yaml wide\n"));
  EXPECT_THAT(r.output, HasSubstr(" --pr] -> --proto\n"));
  EXPECT_THAT(r.output, HasSubstr(" --proto ] -> tcp udp\n"));
}

}  // namespace
}  // namespace xgate
