// One epoll event loop, run by one worker thread. Everything registered with a loop is used
// only from that loop's thread; other threads talk to it through Wake() (an eventfd).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

  // The time this loop's current round of fd events began (epoll_wait returned): what the
  // request path stamps and times itself by, one clock read per round instead of several per
  // request (nginx and HAProxy keep a cached time so too). Behind the real clock by at most
  // the round's work so far. Outside that dispatch (timer and deferred callbacks, before the
  // loop runs, other code): the clock, read afresh.
  Clock::time_point Now() const { return in_round_ ? round_now_ : Clock::now(); }

  // Due `after` from Now().
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
  // A timer's slot; slots are reused, and a TimerId names the slot and its generation, so
  // a stale id cancels nothing. Pending timers form a binary min-heap of slot numbers by
  // (deadline, seq): adding and cancelling cost no allocation once the vectors have grown.
  struct Timer {
    Clock::time_point deadline;
    uint64_t seq = 0;  // order of timers with the same deadline: as added
    uint32_t generation = 1;
    uint32_t heap_index = 0;
    bool pending = false;
    std::function<void()> callback;
  };
  bool Earlier(uint32_t a, uint32_t b) const;
  void HeapSwap(size_t i, size_t j);
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  // Takes the timer out of the heap and frees its slot; returns its callback.
  std::function<void()> ReleaseTimer(uint32_t slot);

  void RunTimers();
  void RunDeferred();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::function<void()> wake_handler_;
  // By fd. Held by pointer so that a callback removed (or replaced) while it runs stays
  // alive: removed ones wait in retired_callbacks_ until the round ends.
  std::vector<std::unique_ptr<FdCallback>> callbacks_;
  std::vector<std::unique_ptr<FdCallback>> retired_callbacks_;
  std::vector<Timer> timers_;
  std::vector<uint32_t> free_timers_;
  std::vector<uint32_t> timer_heap_;
  uint64_t next_timer_seq_ = 0;
  bool in_round_ = false;
  Clock::time_point round_now_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_;  // the round RunDeferred() is working through
};

}  // namespace xgate::proxy
