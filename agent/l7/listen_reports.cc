#include "agent/l7/listen_reports.h"

#include <tuple>

#include "spdlog/spdlog.h"

namespace xgate::l7 {

bool ListenReports::Update(const api::ListenReport& report) {
  UnavailablePorts unavailable;
  for (const api::ListenResult& r : report.results()) {
    if (!r.bound()) unavailable[{r.address(), static_cast<int>(r.port())}] = r.error();
  }
  bool changed;
  {
    std::lock_guard lock(mutex_);
    // Counts restart with each proxy and each pair's return to the config.
    for (const api::ListenResult& r : report.results()) {
      uint64_t& seen = failures_seen_[{report.proxy_id(), r.address(), r.port()}];
      failures_total_ += r.failures() >= seen ? r.failures() - seen : r.failures();
      seen = r.failures();
    }
    latest_ = report;
    changed = unavailable != unavailable_;
    if (changed) {
      unavailable_ = std::move(unavailable);
      ++version_;
    }
  }
  if (changed) {
    changed_.notify_all();
    spdlog::info("proxy listen report (generation {}): {} of {} unavailable", report.generation(),
                 Unavailable().size(), report.results_size());
  }
  return changed;
}

UnavailablePorts ListenReports::Unavailable() const {
  std::lock_guard lock(mutex_);
  return unavailable_;
}

api::ListenReport ListenReports::Latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

uint64_t ListenReports::failures_total() const {
  std::lock_guard lock(mutex_);
  return failures_total_;
}

uint64_t ListenReports::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

uint64_t ListenReports::WaitChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  uint64_t wakes = wakes_;
  changed_.wait_for(lock, timeout, [&] { return version_ != seen || wakes_ != wakes; });
  return version_;
}

void ListenReports::Wake() {
  {
    std::lock_guard lock(mutex_);
    ++wakes_;
  }
  changed_.notify_all();
}

}  // namespace xgate::l7
