// What xgate-proxy reports of its listening sockets (ListenReport, sent over the config
// stream's ReportListen call): kept for the binder, which turns a pair the proxy cannot open
// into the listener's PortUnavailable status, and for the metrics. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "api/proxy.pb.h"

namespace xgate::l7 {

// (address, port) -> why the proxy cannot listen there.
using UnavailablePorts = std::map<std::pair<std::string, int>, std::string>;

class ListenReports {
 public:
  // Keeps `report`; true when what the status shows changed (a pair became unavailable or
  // available again, or its reason changed).
  bool Update(const api::ListenReport& report);
  UnavailablePorts Unavailable() const;
  api::ListenReport Latest() const;
  // Failed attempts reported so far, over every pair and proxy (a counter).
  uint64_t failures_total() const;
  // Bumped by each Update that changed the status.
  uint64_t version() const;
  // Waits until version() differs from `seen` or `timeout` passes; returns version().
  uint64_t WaitChange(uint64_t seen, std::chrono::milliseconds timeout) const;
  // Wakes every waiter (to stop).
  void Wake();

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  api::ListenReport latest_;
  UnavailablePorts unavailable_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> failures_seen_;
  uint64_t failures_total_ = 0;
  uint64_t version_ = 0;
  uint64_t wakes_ = 0;
};

}  // namespace xgate::l7
