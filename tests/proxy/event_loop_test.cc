// EventLoop: timer order, cancellation (stale ids included), timers added or cancelled from
// inside timer callbacks, and fd callbacks that remove or replace themselves while running.
#include "userspace-proxy/server/event_loop.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xgate::proxy {
namespace {

using std::chrono::milliseconds;

// Runs the loop until `done` or 200 rounds; timers here are due at once (negative delays).
template <typename Done>
void RunUntil(EventLoop& loop, Done done) {
  for (int i = 0; i < 200 && !done(); ++i) loop.RunOnce(milliseconds(50));
}

TEST(EventLoopTimers, RunInDeadlineOrderThenInAddOrder) {
  EventLoop loop;
  std::string order;
  loop.AddTimer(milliseconds(-1), [&] { order += 'c'; });
  loop.AddTimer(milliseconds(-3), [&] { order += 'a'; });
  loop.AddTimer(milliseconds(-2), [&] { order += 'b'; });
  loop.AddTimer(milliseconds(-1), [&] { order += 'd'; });
  loop.AddTimer(std::chrono::hours(1), [&] { order += 'x'; });
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(order, "abcd");  // c and d: d was added later, so its deadline is not earlier
}

TEST(EventLoopTimers, CancelledAndStaleIdsDoNothing) {
  EventLoop loop;
  int fired = 0;
  EventLoop::TimerId a = loop.AddTimer(milliseconds(-1), [&] { fired += 1; });
  EventLoop::TimerId b = loop.AddTimer(milliseconds(-1), [&] { fired += 10; });
  loop.CancelTimer(a);
  loop.CancelTimer(a);  // twice: no-op
  loop.CancelTimer(0);
  // a's slot is reused by c: a's id must not cancel c.
  EventLoop::TimerId c = loop.AddTimer(milliseconds(-1), [&] { fired += 100; });
  EXPECT_NE(a, c);
  loop.CancelTimer(a);
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(fired, 110);
  loop.CancelTimer(b);  // already ran: no-op
  loop.CancelTimer(c);
  EventLoop::TimerId d = loop.AddTimer(milliseconds(-1), [&] { fired += 1000; });
  loop.CancelTimer(b);
  loop.CancelTimer(c);
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(fired, 1110);
  EXPECT_NE(d, 0u);
}

TEST(EventLoopTimers, CallbacksAddAndCancelTimers) {
  EventLoop loop;
  std::string order;
  EventLoop::TimerId later = 0;
  EventLoop::TimerId self = 0;
  self = loop.AddTimer(milliseconds(-2), [&] {
    order += 'a';
    loop.CancelTimer(self);   // its own id, while running: no-op
    loop.CancelTimer(later);  // a pending one
    loop.AddTimer(milliseconds(-1), [&] { order += 'c'; });
  });
  later = loop.AddTimer(milliseconds(-1), [&] { order += 'x'; });
  loop.AddTimer(milliseconds(-1), [&] { order += 'b'; });
  RunUntil(loop, [&] { return order.size() >= 3; });
  EXPECT_EQ(order, "abc");
}

// Many timers added and cancelled at random keep the heap in order: every survivor fires
// once, in deadline order.
TEST(EventLoopTimers, RandomAddCancelKeepsOrder) {
  EventLoop loop;
  std::mt19937 rng(7);
  std::vector<std::pair<int, EventLoop::TimerId>> live;  // (delay, id)
  std::vector<int> fired;
  for (int i = 0; i < 2000; ++i) {
    if (!live.empty() && rng() % 3 == 0) {
      size_t at = rng() % live.size();
      loop.CancelTimer(live[at].second);
      live.erase(live.begin() + static_cast<long>(at));
      continue;
    }
    // All due; hours apart, so the time between two adds cannot reorder them.
    int delay = -1000 + static_cast<int>(rng() % 900);
    live.push_back({delay, loop.AddTimer(std::chrono::hours(delay),
                                         [&fired, delay] { fired.push_back(delay); })});
  }
  loop.RunOnce(milliseconds(0));
  ASSERT_EQ(fired.size(), live.size());
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
}

TEST(EventLoopFds, CallbackRemovingAndReplacingItselfWhileRunning) {
  EventLoop loop;
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  int calls = 0, replaced_calls = 0;
  std::string captured = "kept alive while running";
  ASSERT_TRUE(loop.Add(
      pair[0],
      [&, captured](uint32_t) {
        ++calls;
        loop.Remove(pair[0]);
        // Re-registered under the same number from inside the old callback.
        loop.Add(
            pair[0], [&](uint32_t) { ++replaced_calls; }, EPOLLIN);
        EXPECT_EQ(captured, "kept alive while running");  // the closure still exists
      },
      EPOLLIN));
  ASSERT_EQ(write(pair[1], "x", 1), 1);
  RunUntil(loop, [&] { return calls > 0; });
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(write(pair[1], "y", 1), 1);
  RunUntil(loop, [&] { return replaced_calls > 0; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(replaced_calls, 1);
  loop.Remove(pair[0]);
  ASSERT_EQ(write(pair[1], "z", 1), 1);
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(replaced_calls, 1);
  close(pair[0]);
  close(pair[1]);
}

// Now() during a round of fd events is the round's start, whatever the clock did since, and
// the clock itself outside it.
TEST(EventLoopClock, NowHoldsStillThroughARoundOfFdEvents) {
  EventLoop loop;
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  Clock::time_point before = Clock::now();
  Clock::time_point first{}, second{};
  bool clock_moved = false;
  ASSERT_TRUE(loop.Add(
      pair[0],
      [&](uint32_t) {
        first = loop.Now();
        // Until the clock has visibly moved past the first reading (bounded: it moves).
        for (int i = 0; i < 1000000 && !clock_moved; ++i) clock_moved = Clock::now() > first;
        second = loop.Now();
      },
      EPOLLIN));
  ASSERT_EQ(write(pair[1], "x", 1), 1);
  RunUntil(loop, [&] { return clock_moved; });
  ASSERT_TRUE(clock_moved);
  EXPECT_GE(first, before);
  EXPECT_EQ(second, first);
  Clock::time_point after = Clock::now();
  EXPECT_GE(loop.Now(), after);  // outside the round: read afresh
  loop.Remove(pair[0]);
  close(pair[0]);
  close(pair[1]);
}

}  // namespace
}  // namespace xgate::proxy
