#include "agent/kube/program_first.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace xgate::kube {
namespace {

using Waited = ProgramFirst::Waited;

// Bounded: a wait the test expects to be ended by Programmed() fails the test (times out)
// rather than hanging when it is not.
constexpr std::chrono::seconds kLong{30};

// Whether a writer waits on `gate` within kLong (polled: it starts on another thread).
bool WaitingSoon(const ProgramFirst& gate) {
  const auto deadline = std::chrono::steady_clock::now() + kLong;
  while (gate.waiting() == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ProgramFirst, NothingPendingIsNoWait) {
  std::atomic<uint64_t> version{4};
  ProgramFirst gate([&] { return version.load(); }, kLong);
  gate.Programmed(4);
  EXPECT_EQ(gate.Wait(), Waited::kNothingPending);
}

TEST(ProgramFirst, AWriterWaitsUntilThePendingChangeIsProgrammed) {
  std::atomic<uint64_t> version{4};
  ProgramFirst gate([&] { return version.load(); }, kLong);
  gate.Programmed(4);
  version = 5;  // a change lands
  auto waited = std::async(std::launch::async, [&] { return gate.Wait(); });
  ASSERT_TRUE(WaitingSoon(gate));
  gate.Programmed(4);  // a reload that started before it: still pending
  EXPECT_EQ(gate.waiting(), 1);
  gate.Programmed(5);
  EXPECT_EQ(waited.get(), Waited::kProgrammed);
}

// A wait that runs out lets the writer go on unpaced while the changes never pause, and pacing
// resumes once the reconcile has caught up.
TEST(ProgramFirst, AWaitThatRunsOutLeavesTheWriterUnpacedUntilTheReconcileCatchesUp) {
  std::atomic<uint64_t> version{1};
  ProgramFirst gate([&] { return version.load(); }, std::chrono::milliseconds(1));
  EXPECT_EQ(gate.Wait(), Waited::kTimedOut);
  EXPECT_EQ(gate.Wait(), Waited::kUnpaced);
  version = 2;
  EXPECT_EQ(gate.Wait(), Waited::kUnpaced);
  gate.Programmed(1);  // not caught up
  EXPECT_EQ(gate.Wait(), Waited::kUnpaced);
  gate.Programmed(2);
  EXPECT_EQ(gate.Wait(), Waited::kNothingPending);
  version = 3;
  EXPECT_EQ(gate.Wait(), Waited::kTimedOut);
}

}  // namespace
}  // namespace xgate::kube
