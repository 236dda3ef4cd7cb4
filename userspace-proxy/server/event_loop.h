// One epoll event loop, run by one worker thread. Everything registered with a loop is used
// only from that loop's thread; other threads talk to it through Wake() (an eventfd).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

namespace xgate::proxy {

using Clock = std::chrono::steady_clock;

class EventLoop {
 public:
  // Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP).
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Edge-triggered registration for EPOLLIN|EPOLLOUT|EPOLLRDHUP (or `events` when given).
  bool Add(int fd, FdCallback callback, uint32_t events = 0);
  void Remove(int fd);

  TimerId AddTimer(Clock::duration after, std::function<void()> callback);
  void CancelTimer(TimerId id);  // no-op for 0 or a timer that already ran

  // Runs `callback` once after the current round of events (safe place to destroy objects
  // whose callbacks are on the stack).
  void Defer(std::function<void()> callback);

  // Thread-safe: makes RunOnce return soon and calls the wake handler on the loop thread.
  void Wake();
  void SetWakeHandler(std::function<void()> handler) { wake_handler_ = std::move(handler); }

  // Waits for events at most `max_wait`, dispatches them, runs due timers and deferred work.
  void RunOnce(Clock::duration max_wait);

 private:
  void RunTimers();
  void RunDeferred();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::function<void()> wake_handler_;
  std::unordered_map<int, FdCallback> callbacks_;
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_deadlines_;
  TimerId next_timer_ = 1;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_;  // the round RunDeferred() is working through
};

}  // namespace xgate::proxy
