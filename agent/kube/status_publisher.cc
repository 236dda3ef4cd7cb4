#include "agent/kube/status_publisher.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

constexpr int kNice = 10;  // ~a tenth of a nice-0 thread's share when both want the CPU

}  // namespace

StatusPublisher::StatusPublisher(StatusWriter& writer, LeaderElector& elector,
                                 std::chrono::milliseconds retry)
    : writer_(writer), elector_(elector), retry_(retry) {
  elector_.AddObserver([this](bool leader) { LeadershipChanged(leader); });
  thread_ = std::thread([this] {
    // Below the reconcile thread: on a busy node the data plane's changes come first, and a
    // burst of status writes (10,000 new routes) takes the CPU that is left. Per thread on
    // Linux; refused (no change) where it is not allowed.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kNice) != 0) {
      spdlog::debug("status writer: nice {} refused", kNice);
    }
    Loop();
  });
}

StatusPublisher::~StatusPublisher() { Stop(); }

void StatusPublisher::Publish(std::shared_ptr<const model::Store> store,
                              std::shared_ptr<const binder::Statuses> statuses) {
  {
    std::lock_guard lock(mu_);
    store_ = std::move(store);
    statuses_ = std::move(statuses);
    pending_ = true;
  }
  cv_.notify_all();
}

void StatusPublisher::LeadershipChanged(bool leader) {
  if (!leader) return;
  writer_.SweepAllRoutes();
  {
    std::lock_guard lock(mu_);
    if (store_) pending_ = true;
  }
  cv_.notify_all();
}

void StatusPublisher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t StatusPublisher::clean_writes() const {
  std::lock_guard lock(mu_);
  return clean_writes_;
}

void StatusPublisher::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    // Leadership can also end by the renew deadline passing, with no callback until the
    // elector's next round: IsLeader() is asked before each write.
    cv_.wait(lock, [this] { return stopping_ || pending_; });
    if (stopping_) return;
    if (!elector_.IsLeader()) {
      // Woken again by LeadershipChanged(true) or the next Publish.
      cv_.wait(lock, [this] { return stopping_ || elector_.IsLeader(); });
      continue;
    }
    std::shared_ptr<const model::Store> store = store_;
    std::shared_ptr<const binder::Statuses> statuses = statuses_;
    pending_ = false;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    const StatusWriteCounters before = writer_.counters();
    absl::Status written = writer_.Write(*store, *statuses);
    const StatusWriteCounters after = writer_.counters();
    if (after.ok != before.ok || after.conflict != before.conflict) {
      spdlog::info("status: {} objects written ({} conflicts) in {} ms", after.ok - before.ok,
                   after.conflict - before.conflict,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    }
    lock.lock();
    if (written.ok()) {
      ++clean_writes_;
      continue;
    }
    spdlog::warn("status: not every object is up to date ({}); retrying in {} ms",
                 std::string(written.message()), retry_.count());
    pending_ = true;
    cv_.wait_for(lock, retry_, [this] { return stopping_; });
  }
}

}  // namespace xgate::kube
