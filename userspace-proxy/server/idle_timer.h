// A tunnel's idle timeout: `on_idle` runs once `timeout` has passed with no Touch(). Lazy:
// Touch only moves a time stamp, and the one timer, when it fires early, waits again for the
// rest. Cancelled on destruction.
#pragma once

#include <functional>

#include "userspace-proxy/server/event_loop.h"

namespace xgate::proxy {

class IdleTimer {
 public:
  IdleTimer(EventLoop& loop, Clock::duration timeout, std::function<void()> on_idle)
      : loop_(loop), timeout_(timeout), on_idle_(std::move(on_idle)) {}
  ~IdleTimer() { loop_.CancelTimer(timer_); }
  IdleTimer(const IdleTimer&) = delete;
  IdleTimer& operator=(const IdleTimer&) = delete;

  void Touch() {
    last_activity_ = Clock::now();
    if (timer_ == 0) Arm(timeout_);
  }

 private:
  void Arm(Clock::duration after) {
    timer_ = loop_.AddTimer(after, [this] {
      timer_ = 0;
      Clock::time_point deadline = last_activity_ + timeout_;
      Clock::time_point now = Clock::now();
      if (now < deadline) {
        Arm(deadline - now + std::chrono::milliseconds(1));
        return;
      }
      on_idle_();
    });
  }

  EventLoop& loop_;
  Clock::duration timeout_;
  std::function<void()> on_idle_;
  EventLoop::TimerId timer_ = 0;
  Clock::time_point last_activity_ = Clock::now();
};

}  // namespace xgate::proxy
