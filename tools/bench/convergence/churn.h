// A churn of other routes: `count` HTTPRoutes (churn-0 ...) whose host names a thread of its
// own rewrites, one route every `interval`, while the measured changes run. The writes are not
// waited for (the agent takes them as they come), only counted.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "tools/bench/kube/gateway_probe.h"
#include "tools/bench/kube/route_writer.h"

namespace xgate::bench {

class Churn {
 public:
  // Creates the routes through `writer` (the thread's own: a writer is not shared between
  // threads) and waits, up to `deadline`, until the last of them is served.
  static absl::StatusOr<std::unique_ptr<Churn>> Start(std::unique_ptr<RouteWriter> writer,
                                                      GatewayProbe& probe, int count,
                                                      std::chrono::milliseconds interval,
                                                      Clock::time_point deadline);
  // Stops the thread and deletes the routes.
  ~Churn();
  Churn(const Churn&) = delete;
  Churn& operator=(const Churn&) = delete;

  int writes() const { return writes_.load(); }
  int errors() const { return errors_.load(); }

 private:
  Churn(std::unique_ptr<RouteWriter> writer, int count, std::chrono::milliseconds interval);
  void Run();

  std::unique_ptr<RouteWriter> writer_;
  int count_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<int> writes_{0}, errors_{0};
  std::thread thread_;
};

}  // namespace xgate::bench
