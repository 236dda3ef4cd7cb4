// xgate-agent as a process: watches its folder, applies each change, keeps the last good
// state, stops on SIGTERM.
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
using std::chrono::steady_clock;
// Generous: the machine is shared; a passing run takes well under a second per step.
constexpr auto kDeadline = std::chrono::seconds(30);

class AgentProcess {
 public:
  AgentProcess(std::vector<std::string> args, const fs::path& log) : log_(log) {
    args.insert(args.begin(), XGATE_AGENT_PATH);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string Log() const {
    std::error_code ec;
    return fs::exists(log_, ec) ? fixtures::ReadFile(log_) : "";
  }

  // Polls the log until it contains `text`, up to the deadline.
  bool WaitForLog(const std::string& text) const {
    for (auto end = steady_clock::now() + kDeadline; steady_clock::now() < end;) {
      if (Log().find(text) != std::string::npos) return true;
      if (Exited()) return Log().find(text) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // The first log line containing `text` (waiting for it as WaitForLog does), or "".
  std::string WaitForLine(const std::string& text) const {
    if (!WaitForLog(text)) return "";
    std::string log = Log();
    size_t at = log.find(text);
    size_t begin = log.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return log.substr(begin, log.find('\n', at) - begin);
  }

  // The exit code once the process ended (up to the deadline), or -1.
  int WaitForExit() {
    for (auto end = steady_clock::now() + kDeadline; steady_clock::now() < end;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  pid_t pid() const { return pid_; }

 private:
  bool Exited() const { return pid_ <= 0 || kill(pid_, 0) != 0; }
  fs::path log_;
  pid_t pid_ = -1;
};

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
  ASSERT_TRUE(agent.WaitForLog("snapshot 4 applied")) << agent.Log();

  ASSERT_EQ(kill(agent.pid(), SIGTERM), 0);
  EXPECT_EQ(agent.WaitForExit(), 0) << agent.Log();
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("xgate-agent stopped"));
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
  EXPECT_THAT(agent.Log(), ::testing::HasSubstr("unknown flag --bogus"));
}

}  // namespace
}  // namespace xgate
