#include "userspace-proxy/server/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

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
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    spdlog::warn("epoll_ctl add fd {}: {}", fd, strerror(errno));
    return false;
  }
  callbacks_[fd] = std::move(callback);
  return true;
}

void EventLoop::Remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = callbacks_.find(fd);
  if (it == callbacks_.end()) return;
  // The callback may be the one running now: destroy it after this round.
  deferred_.push_back([callback = std::move(it->second)] {});
  callbacks_.erase(it);
}

EventLoop::TimerId EventLoop::AddTimer(Clock::duration after, std::function<void()> callback) {
  TimerId id = next_timer_++;
  Clock::time_point deadline = Clock::now() + after;
  timers_.emplace(std::make_pair(deadline, id), std::move(callback));
  timer_deadlines_[id] = deadline;
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase({it->second, id});
  timer_deadlines_.erase(it);
}

void EventLoop::Defer(std::function<void()> callback) { deferred_.push_back(std::move(callback)); }

void EventLoop::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::RunOnce(Clock::duration max_wait) {
  Clock::duration wait = max_wait;
  if (!deferred_.empty()) wait = Clock::duration::zero();
  if (!timers_.empty()) {
    wait = std::min(wait,
                    std::max(Clock::duration::zero(), timers_.begin()->first.first - Clock::now()));
  }
  int timeout_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  epoll_event events[128];
  int n = epoll_wait(epoll_fd_, events, 128, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto it = callbacks_.find(events[i].data.fd);
    if (it == callbacks_.end()) continue;
    // Copy: the callback may remove itself (and its fd number may be reused) while running.
    FdCallback callback = it->second;
    callback(events[i].events);
  }
  RunTimers();
  RunDeferred();
  AccessLog::Flush();  // this round's lines, before the loop may sleep
}

void EventLoop::RunTimers() {
  Clock::time_point now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    node.mapped()();
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
