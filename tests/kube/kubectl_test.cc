// The fixture checked against a real client, and deploy/ checked through the fixture: kubectl
// (1.32) with the kubeconfig the server wrote applies, gets, watches and patches.
#include <absl/strings/str_split.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/kube/server_process.h"

namespace xgate::kubetest {
namespace {

using nlohmann::json;

const std::string kDeploy = XGATE_DEPLOY_DIR;
const std::string kCrds = kDeploy + "/01-gateway-api-v1.6.1-standard.yaml";

class KubectlTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServerProcess> server;

  void Start(std::vector<std::string> flags) {
    server = std::make_unique<ServerProcess>(flags);
    ASSERT_TRUE(server->Ready()) << "see " << server->Dir() / "server.log";
  }
  // kubectl as `user`, bounded by --request-timeout and timeout(1).
  Command Kubectl(const std::string& args, const std::string& user = "admin") {
    return RunCommand("timeout 60 kubectl --kubeconfig " + server->Kubeconfig(user).string() +
                      " --request-timeout=20s " + args);
  }
};

TEST_F(KubectlTest, DeployDryRunIsClean) {
  Start({});
  // kubectl maps every object to a served kind before it sends any: the GatewayClass needs the
  // CRDs of the same folder installed (see README, Kubernetes).
  Command before = Kubectl("apply --dry-run=client -f " + kDeploy);
  EXPECT_NE(before.status, 0);
  EXPECT_NE(before.output.find("04-gatewayclass.yaml"), std::string::npos) << before.output;
  ASSERT_EQ(Kubectl("apply -f " + kCrds).status, 0);
  Command dry = Kubectl("apply --dry-run=client -f " + kDeploy);
  EXPECT_EQ(dry.status, 0) << dry.output;
  EXPECT_NE(dry.output.find("daemonset.apps/xgate-agent created (dry run)"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("gatewayclass.gateway.networking.k8s.io/xgate created (dry run)"),
            std::string::npos);
  EXPECT_EQ(Kubectl("get daemonsets -A -o name").output, "");  // nothing applied
}

// The kustomize base: the same objects as the folder, labelled, applied with -k.
TEST_F(KubectlTest, DeployAsAKustomizeBase) {
  Start({});
  ASSERT_EQ(Kubectl("apply -f " + kCrds).status, 0);
  Command built = RunCommand("kubectl kustomize " + kDeploy);
  ASSERT_EQ(built.status, 0) << built.output;
  size_t objects = 0;
  std::vector<std::string> docs = absl::StrSplit(built.output, "\n---\n");
  for (const std::string& doc : docs) {
    if (doc.find("kind:") == std::string::npos) continue;
    ++objects;
    EXPECT_NE(doc.find("app.kubernetes.io/part-of: xgate"), std::string::npos) << doc;
  }
  // The folder's objects, and the Grafana dashboard's ConfigMap.
  Command listed = RunCommand("cat " + kDeploy + "/*.yaml | grep -c '^kind:'");
  EXPECT_EQ(std::to_string(objects - 1) + "\n", listed.output);
  EXPECT_NE(built.output.find("image: xgate:dev"), std::string::npos);
  Command apply = Kubectl("apply -k " + kDeploy);
  ASSERT_EQ(apply.status, 0) << apply.output;
  json ds = json::parse(Kubectl("get -n xgate-system daemonset xgate-agent -o json").output);
  EXPECT_EQ(ds["metadata"]["labels"]["app.kubernetes.io/part-of"], "xgate");
  json cm =
      json::parse(Kubectl("get -n xgate-system configmap xgate-grafana-dashboard -o json").output);
  EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"], "1");
  std::ifstream file(kDeploy + "/grafana/xgate-dashboard.json");
  EXPECT_EQ(json::parse(cm["data"]["xgate-dashboard.json"].get<std::string>()), json::parse(file));
}

TEST_F(KubectlTest, DeployAppliesAsTheReadmeSays) {
  Start({});
  ASSERT_EQ(Kubectl("apply -f " + kCrds).status, 0);
  Command wait = Kubectl("wait --for condition=Established --timeout=20s crd --all");
  ASSERT_EQ(wait.status, 0) << wait.output;
  Command apply = Kubectl("apply -f " + kDeploy);
  ASSERT_EQ(apply.status, 0) << apply.output;
  Command again = Kubectl("apply -f " + kDeploy);
  EXPECT_EQ(again.status, 0) << again.output;

  json ds = json::parse(Kubectl("get -n xgate-system daemonset xgate-agent -o json").output);
  auto& pod = ds["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostNetwork"].get<bool>());
  EXPECT_EQ(pod["serviceAccountName"], "xgate-agent");
  EXPECT_FALSE(pod["containers"][0]["securityContext"]["privileged"].get<bool>());
  json gc = json::parse(Kubectl("get gatewayclass xgate -o json").output);
  EXPECT_EQ(gc["spec"]["controllerName"], "xgate.dev/node-agent");
  // The agent's token can read what it informs on, and the Lease is its own.
  EXPECT_EQ(
      Kubectl("get gateways,httproutes,tcproutes,udproutes,tlsroutes,referencegrants -A", "agent")
          .status,
      0);
  EXPECT_EQ(Kubectl("get configmaps -A", "agent").status, 0);  // BackendTLSPolicy CA bundles
  EXPECT_NE(Kubectl("get pods -A", "agent").status, 0);
}

TEST_F(KubectlTest, AppliesGetsWatchesAndPatches) {
  Start({"--preload", kDeploy});
  std::string gw =
      "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: "
      "default}\n"
      "spec:\n  gatewayClassName: xgate\n  listeners:\n  - {name: http, port: 80, protocol: "
      "HTTP}\n";
  std::ofstream(server->Dir() / "gw.yaml") << gw;
  Command apply = Kubectl("apply -f " + (server->Dir() / "gw.yaml").string());
  ASSERT_EQ(apply.status, 0) << apply.output;
  EXPECT_NE(apply.output.find("gateway.gateway.networking.k8s.io/gw created"), std::string::npos);

  Command get = Kubectl("get gateway gw -o jsonpath={.spec.listeners[0].port}");
  EXPECT_EQ(get.output, "80");

  // Watch for at most 3 s while another kubectl keeps changing the object.
  Command watch;
  std::atomic<bool> watching = true;
  std::thread watcher([&] {
    watch =
        Kubectl("get gateways -w --request-timeout=3s -o jsonpath='{.metadata.labels.n}{\"\\n\"}'");
    watching = false;
  });
  int labels = 0;
  while (watching && labels < 100) {
    EXPECT_EQ(Kubectl("label gateway gw n=" + std::to_string(++labels) + " --overwrite").status, 0);
  }
  watcher.join();
  EXPECT_EQ(Kubectl("label gateway gw team=a").status, 0);
  // The first line is the list's object, each later one a change seen through the watch: in
  // order, none lost.
  std::vector<std::string> lines = absl::StrSplit(watch.output, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << watch.output;
  for (size_t i = 1; i < lines.size(); ++i)
    EXPECT_EQ(std::stoi(lines[i]), std::stoi(lines[i - 1]) + 1) << watch.output;

  Command patch = Kubectl(
      "patch gateway gw --subresource=status --type=merge -p "
      "'{\"status\":{\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":"
      "\"Accepted\","
      "\"message\":\"\",\"lastTransitionTime\":\"2024-01-01T00:00:00Z\",\"observedGeneration\":1}]}"
      "}'");
  ASSERT_EQ(patch.status, 0) << patch.output;
  json after = json::parse(Kubectl("get gateway gw -o json").output);
  EXPECT_EQ(after["status"]["conditions"][0]["type"], "Accepted");
  EXPECT_EQ(after["metadata"]["generation"], 1);
  EXPECT_EQ(after["metadata"]["labels"]["team"], "a");

  // A change to the spec through kubectl apply moves the generation.
  std::ofstream(server->Dir() / "gw.yaml")
      << gw.substr(0, gw.find("port: 80")) << "port: 8080, protocol: HTTP}\n";
  ASSERT_EQ(Kubectl("apply -f " + (server->Dir() / "gw.yaml").string()).status, 0);
  EXPECT_EQ(Kubectl("get gateway gw -o jsonpath={.metadata.generation}").output, "2");

  Command forbidden = Kubectl(
      "patch gateway gw --type=merge -p '{\"spec\":{\"gatewayClassName\":\"x\"}}'", "agent");
  EXPECT_NE(forbidden.status, 0);
  EXPECT_NE(forbidden.output.find("Forbidden"), std::string::npos) << forbidden.output;
}

}  // namespace
}  // namespace xgate::kubetest
