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
#include "tests/kube/server_process.h"

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

TEST_F(KubectlPlugin, GetNameOutput) {
  auto r = Xgate("get routes -n foo -o name");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("httproute.gateway.networking.k8s.io/baz\n"));
  EXPECT_THAT(r.output, Not(HasSubstr("bar-route")));
  auto backends = Xgate("get backends -o name");
  EXPECT_EQ(backends.exit_code, 2) << backends.output;
}

// Object names after `get gateways|routes`, from the running agent, through xgatectl's bash
// script and kubectl's completion of the plugin; -n narrows them; no agent: no names, quietly.
TEST_F(KubectlPlugin, CompletesObjectNamesFromTheAgent) {
  std::string script = "source <(" XGATECTL_PATH
                       " completion bash) || exit 9\n"
                       "complete_at() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _xgatectl;\n"
                       "  echo \"[$*] -> ${COMPREPLY[*]}\"; }\n"
                       "complete_at " XGATECTL_PATH " get routes -s " +
                       socket_ +
                       " ''\n"
                       "complete_at " XGATECTL_PATH " get gateways --socket=unix://" +
                       socket_ +
                       " ''\n"
                       "complete_at " XGATECTL_PATH " get routes -n foo -s " +
                       socket_ +
                       " b\n"
                       "complete_at " XGATECTL_PATH " get routes -s " +
                       (tmp_.path() / "none.sock").string() + " ''\n";
  fixtures::WriteFile(tmp_.path() / "complete.sh", script);
  auto r = RunCommand("bash " + (tmp_.path() / "complete.sh").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(".sock ] -> bar-route baz foo-route\n"));
  EXPECT_THAT(r.output, HasSubstr("admin.sock ] -> edge prod-web\n"));
  EXPECT_THAT(r.output, HasSubstr(" b] -> baz\n"));
  EXPECT_THAT(r.output, HasSubstr("none.sock ] -> \n"));

  auto kubectl = Kubectl("__complete xgate get routes -s unix://" + socket_ + " ''");
  ASSERT_EQ(kubectl.exit_code, 0) << kubectl.output;
  EXPECT_THAT(kubectl.output, ContainsRegex("(^|\n)bar-route\nbaz\nfoo-route\n:4\n"));
}

// --node: the pod lookup runs against xgate-test-apiserver (pods on two nodes). That server
// cannot exec into a pod, so a fixture `kubectl` first on PATH records every command line and
// runs `exec ... -- xgatectl ARGS` as the build's xgatectl ARGS here (this test's agent);
// every other command goes to the real kubectl.
TEST_F(KubectlPlugin, NodeRunsInTheAgentPodOfThatNode) {
  kubetest::ServerProcess server({"--preload", XGATE_DEPLOY_DIR});
  ASSERT_TRUE(server.Ready()) << "see " << server.Dir() / "server.log";
  std::string kubeconfig = server.Kubeconfig("admin").string();
  std::string real = RunCommand("command -v kubectl").output;
  real.erase(real.find_last_not_of("\n") + 1);
  std::string pods;
  for (auto [name, node, app] : {std::tuple{"xgate-agent-a1", "node-a", "xgate-agent"},
                                 {"xgate-agent-b1", "node-b", "xgate-agent"},
                                 {"web-b1", "node-b", "web"}}) {
    pods += std::string("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ") + name +
            ", namespace: xgate-system, labels: {app.kubernetes.io/name: " + app +
            "}}\nspec: {nodeName: " + node + ", containers: [{name: agent, image: xgate:dev}]}\n";
  }
  fixtures::WriteFile(tmp_.path() / "pods.yaml", pods);
  auto created = RunCommand(real + " --kubeconfig " + kubeconfig + " apply -f " +
                            (tmp_.path() / "pods.yaml").string());
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::string context =
      RunCommand(real + " --kubeconfig " + kubeconfig + " config current-context").output;
  context.erase(context.find_last_not_of("\n") + 1);

  fs::path bin = tmp_.path() / "bin", log = tmp_.path() / "kubectl.log";
  fs::create_directory(bin);
  fixtures::WriteFile(bin / "kubectl", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + log.string() +
                                           "\n"
                                           "case \" $* \" in *\" exec \"*)\n"
                                           "  while [ \"$1\" != -- ]; do shift; done; shift 2\n"
                                           "  exec " XGATECTL_PATH
                                           " \"$@\" ;;\n"
                                           "esac\n"
                                           "exec " +
                                           real + " \"$@\"\n");
  fs::permissions(bin / "kubectl", fs::perms::owner_all);
  auto kubectl = [&](const std::string& args) {
    return RunCommand("env PATH=" + bin.string() + ":" XGATE_BUILD_DIR ":\"$PATH\" kubectl " +
                      args);
  };
  std::string flags = "--kubeconfig " + kubeconfig + " --context " + context;

  auto r = kubectl("xgate " + flags + " --node node-b get routes -n foo -s unix://" + socket_);
  ASSERT_EQ(r.exit_code, 0) << r.output << fixtures::ReadFile(log);
  EXPECT_THAT(r.output, ContainsRegex("HTTPRoute +foo +baz "));
  std::string calls = fixtures::ReadFile(log);
  EXPECT_THAT(calls, HasSubstr(flags + " -n xgate-system get pods -l app.kubernetes.io/name=" +
                               "xgate-agent -o json\n"));
  EXPECT_THAT(calls, HasSubstr(flags + " -n xgate-system exec xgate-agent-b1 -c agent -- " +
                               "xgatectl get routes -n foo -s unix://" + socket_ + "\n"));

  auto none = kubectl("xgate " + flags + " --node node-c get routes");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_THAT(none.output, HasSubstr("xgatectl --node node-c: no xgate-agent pod on node node-c "
                                     "in namespace xgate-system"));

  // Completion of names goes through the node's pod too (`get routes -o name` there).
  auto names = kubectl("__complete xgate --node node-a " + flags + " get routes -s unix://" +
                       socket_ + " ''");
  ASSERT_EQ(names.exit_code, 0) << names.output;
  EXPECT_THAT(names.output, ContainsRegex("(^|\n)bar-route\nbaz\nfoo-route\n:4\n"));
  EXPECT_THAT(fixtures::ReadFile(log), HasSubstr("exec xgate-agent-a1 -c agent -- xgatectl get "
                                                 "routes -o name --socket " +
                                                 socket_ + "\n"));
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
  EXPECT_THAT(r.output, HasSubstr(" -o ] -> json yaml wide name\n"));
  EXPECT_THAT(r.output, HasSubstr(" --pr] -> --proto\n"));
  EXPECT_THAT(r.output, HasSubstr(" --proto ] -> tcp udp\n"));
}

}  // namespace
}  // namespace xgate
