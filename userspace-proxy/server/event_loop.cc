#include "userspace-proxy/server/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "spdlog/spdlog.h"
#include "userspace-proxy/server/access_log.h"

namespace xgate::proxy {

EventLoop::EventLoop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    spdlog::critical("epoll/eventfd: {}", strerror(errno));
    std::abort();
  }
  Add(
      wake_fd_,
      [this](uint32_t) {
        uint64_t value;
        while (read(wake_fd_, &value, sizeof(value)) > 0) {
        }
        if (wake_handler_) wake_handler_();
      },
      EPOLLIN);
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

bool EventLoop::Add(int fd, FdCallback callback, uint32_t events) {
  epoll_event event{};
  event.events = (events ? events : (EPOLLIN | EPOLLOUT | EPOLLRDHUP)) | EPOLLET;
  event.data.fd = fd;
  if (fd < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    spdlog::warn("epoll_ctl add fd {}: {}", fd, strerror(errno));
    return false;
  }
  if (static_cast<size_t>(fd) >= callbacks_.size()) callbacks_.resize(fd + 1);
  auto& slot = callbacks_[fd];
  if (slot) retired_callbacks_.push_back(std::move(slot));
  slot = std::make_unique<FdCallback>(std::move(callback));
  return true;
}

void EventLoop::Remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (fd < 0 || static_cast<size_t>(fd) >= callbacks_.size() || !callbacks_[fd]) return;
  // The callback may be the one running now: destroy it after this round.
  retired_callbacks_.push_back(std::move(callbacks_[fd]));
}

bool EventLoop::Earlier(uint32_t a, uint32_t b) const {
  const Timer& x = timers_[a];
  const Timer& y = timers_[b];
  return x.deadline < y.deadline || (x.deadline == y.deadline && x.seq < y.seq);
}

void EventLoop::HeapSwap(size_t i, size_t j) {
  std::swap(timer_heap_[i], timer_heap_[j]);
  timers_[timer_heap_[i]].heap_index = static_cast<uint32_t>(i);
  timers_[timer_heap_[j]].heap_index = static_cast<uint32_t>(j);
}

void EventLoop::SiftUp(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Earlier(timer_heap_[i], timer_heap_[parent])) return;
    HeapSwap(i, parent);
    i = parent;
  }
}

void EventLoop::SiftDown(size_t i) {
  for (;;) {
    size_t first = i, left = 2 * i + 1, right = left + 1;
    if (left < timer_heap_.size() && Earlier(timer_heap_[left], timer_heap_[first])) first = left;
    if (right < timer_heap_.size() && Earlier(timer_heap_[right], timer_heap_[first]))
      first = right;
    if (first == i) return;
    HeapSwap(i, first);
    i = first;
  }
}

EventLoop::TimerId EventLoop::AddTimer(Clock::duration after, std::function<void()> callback) {
  uint32_t slot;
  if (!free_timers_.empty()) {
    slot = free_timers_.back();
    free_timers_.pop_back();
  } else {
    slot = static_cast<uint32_t>(timers_.size());
    timers_.emplace_back();
  }
  Timer& timer = timers_[slot];
  timer.deadline = Now() + after;
  timer.seq = next_timer_seq_++;
  timer.pending = true;
  timer.callback = std::move(callback);
  timer.heap_index = static_cast<uint32_t>(timer_heap_.size());
  timer_heap_.push_back(slot);
  SiftUp(timer.heap_index);
  return (static_cast<TimerId>(timer.generation) << 32) | slot;
}

std::function<void()> EventLoop::ReleaseTimer(uint32_t slot) {
  Timer& timer = timers_[slot];
  size_t at = timer.heap_index;
  size_t last = timer_heap_.size() - 1;
  if (at != last) {
    HeapSwap(at, last);
    timer_heap_.pop_back();
    SiftDown(at);
    SiftUp(at);
  } else {
    timer_heap_.pop_back();
  }
  timer.pending = false;
  if (++timer.generation == 0) timer.generation = 1;  // ids are never 0
  free_timers_.push_back(slot);
  return std::move(timer.callback);
}

void EventLoop::CancelTimer(TimerId id) {
  uint32_t slot = static_cast<uint32_t>(id);
  if (id == 0 || slot >= timers_.size()) return;
  const Timer& timer = timers_[slot];
  if (!timer.pending || timer.generation != static_cast<uint32_t>(id >> 32)) return;
  ReleaseTimer(slot);  // the callback is destroyed here, outside any heap work
}

void EventLoop::Defer(std::function<void()> callback) { deferred_.push_back(std::move(callback)); }

void EventLoop::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::RunOnce(Clock::duration max_wait) {
  Clock::duration wait = max_wait;
  if (!deferred_.empty()) wait = Clock::duration::zero();
  if (!timer_heap_.empty()) {
    Clock::time_point next = timers_[timer_heap_.front()].deadline;
    wait = std::min(wait, std::max(Clock::duration::zero(), next - Clock::now()));
  }
  int timeout_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  epoll_event events[128];
  int n = epoll_wait(epoll_fd_, events, 128, timeout_ms);
  round_now_ = Clock::now();
  in_round_ = true;
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (static_cast<size_t>(fd) >= callbacks_.size() || !callbacks_[fd]) continue;
    // Not a copy: a callback that removes itself (its fd number may be reused at once)
    // goes to retired_callbacks_ and lives until the round ends.
    FdCallback* callback = callbacks_[fd].get();
    (*callback)(events[i].events);
  }
  in_round_ = false;
  RunTimers();
  RunDeferred();
  retired_callbacks_.clear();
  AccessLog::Flush();  // this round's lines, before the loop may sleep
}

void EventLoop::RunTimers() {
  Clock::time_point now = Clock::now();
  while (!timer_heap_.empty() && timers_[timer_heap_.front()].deadline <= now) {
    // Released before it runs: the callback may add timers (the slot can be reused) or
    // cancel its own id (a no-op by then).
    std::function<void()> callback = ReleaseTimer(timer_heap_.front());
    callback();
  }
}

void EventLoop::RunDeferred() {
  // The two lists trade places, so both keep their capacity: no allocation per round.
  while (!deferred_.empty()) {
    running_.swap(deferred_);
    for (auto& callback : running_) callback();
    running_.clear();
  }
}

}  // namespace xgate::proxy
