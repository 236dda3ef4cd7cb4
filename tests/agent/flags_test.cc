#include "agent/cmd/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace xgate::agent {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<AgentFlags> Parse(std::vector<std::string> args,
                                 std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "xgate-agent");
  return ParseAgentFlags(args, [env](const std::string& name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  });
}

TEST(AgentFlags, ManifestsIsStandalone) {
  auto f = Parse({"--manifests", "/m", "--attach", "eth1", "--attach=eth2"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->mode, SourceMode::kManifests);
  EXPECT_EQ(f->attach, (std::vector<std::string>{"eth1", "eth2"}));
}

TEST(AgentFlags, CniStateDirDefaultsToXgateCnisOwn) {
  auto f = Parse({"--manifests", "/m"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->cni_state_dir, "/run/xgate/cni");
  f = Parse({"--manifests", "/m", "--cni-state-dir=/var/lib/x"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->cni_state_dir, "/var/lib/x");
}

TEST(AgentFlags, MaxGatewayListeners) {
  auto f = Parse({"--manifests", "/m"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->max_gateway_listeners, 10000u);
  f = Parse({"--manifests", "/m", "--max-gateway-listeners=64"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->max_gateway_listeners, 64u);
  for (const char* bad : {"0", "-1", "many"}) {
    f = Parse({"--manifests", "/m", "--max-gateway-listeners", bad});
    EXPECT_FALSE(f.ok()) << bad;
  }
}

TEST(AgentFlags, KubeconfigWithNodeAndNamespaceDefaultsFromTheEnvironment) {
  auto f = Parse({"--kubeconfig", "/k"}, {{"NODE_NAME", "n1"}, {"POD_NAMESPACE", "gw"}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->mode, SourceMode::kKubeconfig);
  EXPECT_EQ(f->node_name, "n1");
  EXPECT_EQ(f->ns, "gw");
  auto flags =
      Parse({"--kubeconfig=/k", "--node-name", "n2", "--namespace", "x"}, {{"NODE_NAME", "n1"}});
  EXPECT_EQ(flags->node_name, "n2");
  EXPECT_EQ(flags->ns, "x");
  auto defaults = Parse({"--kubeconfig", "/k"});
  EXPECT_FALSE(defaults->node_name.empty());  // the host name
  EXPECT_EQ(defaults->ns, "xgate-system");
}

TEST(AgentFlags, InClusterWhenTheServiceHostIsSetAndNoManifests) {
  auto f = Parse({}, {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->mode, SourceMode::kInCluster);
  auto standalone = Parse({"--manifests", "/m"}, {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}});
  EXPECT_EQ(standalone->mode, SourceMode::kManifests);
}

TEST(AgentFlags, ASourceIsRequiredAndOnlyOne) {
  EXPECT_THAT(std::string(Parse({}).status().message()), HasSubstr("--kubeconfig FILE"));
  EXPECT_THAT(std::string(Parse({"--manifests", "/m", "--kubeconfig", "/k"}).status().message()),
              HasSubstr("exclude each other"));
  EXPECT_THAT(std::string(Parse({"--node-name"}).status().message()), HasSubstr("--node-name"));
  EXPECT_THAT(std::string(Parse({"--node-name="}).status().message()),
              HasSubstr("--node-name: 1 required NAME missing"));
  EXPECT_THAT(std::string(Parse({"--bogus"}).status().message()), HasSubstr("--bogus"));
}

}  // namespace
}  // namespace xgate::agent
