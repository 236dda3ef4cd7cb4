#include "agent/sources/kube/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/strings/escaping.h"
#include "tests/fixtures/fixtures.h"

namespace xgate::kube {
namespace {

using ::testing::HasSubstr;

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster: {server: "https://prod.example:6443/", certificate-authority: certs/ca.crt}
- name: dev
  cluster:
    server: https://198.18.0.1:6443
    certificate-authority-data: Q0EtUEVN
users:
- name: dev-user
  user: {token: abc, client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
- name: prod-user
  user: {tokenFile: secrets/token, client-certificate: /etc/c.crt, client-key: /etc/c.key}
contexts:
- name: dev
  context: {cluster: dev, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod, user: prod-user}
)";

TEST(Kubeconfig, CurrentContextWithInlineData) {
  auto config = ParseKubeconfig(kTwoContexts, "/home/me/.kube", "config");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://198.18.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CA-PEM");
  EXPECT_EQ(config->token, "abc");
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_EQ(config->ns, "team-a");
  EXPECT_THAT(config->origin, HasSubstr("context dev"));
}

TEST(Kubeconfig, NamedContextWithFilesRelativeToTheKubeconfig) {
  auto config = ParseKubeconfig(kTwoContexts, "/home/me/.kube", "config", "prod");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://prod.example:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_file, "/home/me/.kube/certs/ca.crt");
  EXPECT_EQ(config->token_file, "/home/me/.kube/secrets/token");
  EXPECT_EQ(config->client_cert_file, "/etc/c.crt");
  EXPECT_EQ(config->client_key_file, "/etc/c.key");
  EXPECT_TRUE(config->ca_pem.empty());
}

TEST(Kubeconfig, ErrorsSayWhatIsWrong) {
  auto missing = ParseKubeconfig(kTwoContexts, "/", "config", "staging");
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no context named \"staging\""));

  auto no_current = ParseKubeconfig("apiVersion: v1\nkind: Config\n", "/", "config");
  EXPECT_THAT(std::string(no_current.status().message()), HasSubstr("no current-context"));

  auto exec = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)",
                              "/", "config");
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(exec.status().message()), HasSubstr("exec"));

  auto half = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)",
                              "/", "config");
  EXPECT_THAT(std::string(half.status().message()), HasSubstr("go together"));

  auto syntax = ParseKubeconfig("clusters: [\n", "/", "bad-config");
  EXPECT_THAT(std::string(syntax.status().message()), HasSubstr("bad-config: line"));

  EXPECT_EQ(LoadKubeconfig("/nonexistent/kubeconfig").status().code(), absl::StatusCode::kNotFound);
}

TEST(Kubeconfig, InClusterServiceAccount) {
  fixtures::TempDir sa;
  fixtures::WriteFile(sa.path() / "ca.crt", "CA");
  fixtures::WriteFile(sa.path() / "token", "t0");
  fixtures::WriteFile(sa.path() / "namespace", "xgate-system\n");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(InClusterConfig(sa.path()).status().code(), absl::StatusCode::kFailedPrecondition);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = InClusterConfig(sa.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
  EXPECT_EQ(config->ca_file, (sa.path() / "ca.crt").string());
  EXPECT_EQ(config->token_file, (sa.path() / "token").string());
  EXPECT_EQ(config->ns, "xgate-system");
  std::filesystem::remove(sa.path() / "token");
  EXPECT_THAT(std::string(InClusterConfig(sa.path()).status().message()), HasSubstr("token"));
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
}  // namespace xgate::kube
