#include "tools/conformance/process.h"

#include <cstdio>

#include "gtest/gtest.h"

namespace xgate::conformance {
namespace {

TEST(ConformanceProcess, RunCommandCapturesOutputAndExitCode) {
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  absl::Status st = RunOk({"sh", "-c", "echo bad thing >&2; exit 1"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad thing"), absl::string_view::npos) << st;
  EXPECT_TRUE(RunOk({"true"}).ok());
  EXPECT_FALSE(RunCommand({"/nonexistent/xgc-command"}).ok());
}

TEST(ConformanceProcess, RunCommandKillsWhatOverrunsItsTimeout) {
  absl::StatusOr<CommandResult> r = RunCommand({"sleep", "30"}, absl::Milliseconds(100));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ConformanceProcess, SpawnRunsInTheBackgroundUntilStopped) {
  std::string log = ::testing::TempDir() + "/xgc-spawn.log";
  absl::StatusOr<pid_t> pid = Spawn({"sh", "-c", "echo started; exec sleep 30"}, "", log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(Running(*pid));
  Stop(*pid);
  int code = 0;
  EXPECT_FALSE(Running(*pid, &code));
  EXPECT_FALSE(Spawn({"true"}, "xgc-no-such-namespace", log).ok());
  std::remove(log.c_str());
}

}  // namespace
}  // namespace xgate::conformance
