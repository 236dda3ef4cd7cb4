// xgate-agent as a process: watches its folder, applies each change, keeps the last good
// state, stops on SIGTERM.
#include "tests/agent/agent_process.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/fixtures/fixtures.h"

namespace xgate {
namespace {

namespace fs = std::filesystem;

TEST(AgentProcess, AppliesChangesKeepsLastGoodAndStopsOnSigterm) {
  fixtures::TempDir tmp;
  fs::path manifests = tmp.path() / "manifests";
  fs::create_directory(manifests);
  fixtures::WriteSeedV1(manifests);
  AgentProcess agent(
      {"--manifests", manifests.string(), "--admin-socket", (tmp.path() / "admin.sock").string()},
      tmp.path() / "agent.log");
  ASSERT_GT(agent.pid(), 0);
  std::string line = agent.WaitForLine("snapshot 1 applied");
  ASSERT_THAT(line, ::testing::HasSubstr("15 objects, 0 refused")) << agent.Log();

  // A new route: a new snapshot.
  fixtures::WriteFile(manifests / "baz.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: baz, namespace: foo}\n"
                      "spec:\n"
                      "  parentRefs: [{name: prod-web, namespace: default}]\n"
                      "  hostnames: [baz.example.com]\n"
                      "  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]\n");
  line = agent.WaitForLine("snapshot 2 applied");
  ASSERT_THAT(line, ::testing::HasSubstr("16 objects, 0 refused")) << agent.Log();

  // A broken edit: that document is refused, everything else stays applied.
  fixtures::WriteFile(manifests / "baz.yaml", "kind: HTTPRoute\nmetadata: {name: [baz\n");
  line = agent.WaitForLine("snapshot 3 applied");
  ASSERT_THAT(line, ::testing::HasSubstr("15 objects, 1 refused")) << agent.Log();
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("baz.yaml:"));

  // The folder goes away: the last good state stays.
  fs::rename(manifests, tmp.path() / "elsewhere");
  ASSERT_TRUE(agent.WaitForLog("keeping snapshot 3")) << agent.Log();
  fs::rename(tmp.path() / "elsewhere", manifests);
  // Back as it was: nothing to apply again.
  ASSERT_TRUE(agent.WaitForLog("no change since snapshot 3")) << agent.Log();
  EXPECT_THAT(agent.Log(), ::testing::Not(::testing::HasSubstr("snapshot 4 applied")));

  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  EXPECT_EQ(agent.WaitForExit(), 0) << agent.Log();
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("xgate-agent stopped"));
}

// The admin socket of the real binary, driven by the real xgatectl.
TEST(AgentProcess, ServesXgatectlOnItsAdminSocket) {
  fixtures::TempDir tmp;
  fs::path manifests = tmp.path() / "manifests";
  fs::create_directory(manifests);
  fixtures::WriteSeedV1(manifests);
  std::string socket = (tmp.path() / "admin.sock").string();
  AgentProcess agent({"--manifests", manifests.string(), "--admin-socket", socket},
                     tmp.path() / "agent.log");
  ASSERT_TRUE(agent.WaitForLog("snapshot 1 applied")) << agent.Log();
  ASSERT_TRUE(agent.WaitForLog("admin API on")) << agent.Log();

  fixtures::WriteFile(tmp.path() / "baz.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: baz, namespace: foo}\n"
                      "spec:\n"
                      "  parentRefs: [{name: prod-web, namespace: default}]\n"
                      "  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]\n");
  auto ctl = [&](const std::string& args) {
    std::string cmd = std::string(XGATECTL_PATH) + " --socket " + socket + " " + args + " >" +
                      (tmp.path() / "out").string() + " 2>&1";
    int status = std::system(cmd.c_str());
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     fixtures::ReadFile(tmp.path() / "out")};
  };
  auto [apply_code, apply_out] = ctl("apply -f " + (tmp.path() / "baz.yaml").string());
  EXPECT_EQ(apply_code, 0) << apply_out;
  EXPECT_THAT(apply_out, ::testing::HasSubstr("HTTPRoute foo/baz configured"));
  EXPECT_TRUE(fs::exists(manifests / "httproute-foo-baz.yaml"));
  auto [get_code, get_out] = ctl("get routes");
  EXPECT_EQ(get_code, 0) << get_out;
  EXPECT_THAT(get_out,
              ::testing::ContainsRegex("HTTPRoute +foo +baz +\\* +default/prod-web +True"));

  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  EXPECT_EQ(agent.WaitForExit(), 0) << agent.Log();
  EXPECT_FALSE(fs::exists(socket));
}

TEST(AgentProcess, MissingFolderAtStartIsAnError) {
  fixtures::TempDir tmp;
  AgentProcess agent({"--manifests", (tmp.path() / "absent").string()}, tmp.path() / "agent.log");
  EXPECT_EQ(agent.WaitForExit(), 2) << agent.Log();
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("absent"));
}

TEST(AgentProcess, BadFlagsAreRefused) {
  fixtures::TempDir tmp;
  AgentProcess agent({"--manifests", tmp.path().string(), "--bogus"}, tmp.path() / "agent.log");
  EXPECT_EQ(agent.WaitForExit(), 2);
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("argument was not expected: --bogus"));
}

}  // namespace
}  // namespace xgate
