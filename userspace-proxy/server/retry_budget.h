// Envoy's retry budget (a cluster circuit breaker's retry_budget), kept per worker: the
// requests being retried may be at most `percent` of the requests in flight, and always at
// least `min_concurrency`. So when every backend fails, the retries stop at the budget instead
// of multiplying the load on what is left. One worker's loop owns it: no lock.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace xgate::proxy {

struct RetryBudgetOptions {
  uint32_t percent = 20;         // Envoy's default budget_percent
  uint32_t min_concurrency = 3;  // Envoy's default min_retry_concurrency
};

class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetOptions options) : options_(options) {}

  void RequestStarted() { ++requests_; }
  void RequestEnded() { --requests_; }
  // A retry of a request that holds no slot yet takes one if the budget has one left; one
  // that holds a slot may go on while the retries in flight stay within the budget. False:
  // the retry is refused.
  bool Admit(bool holds_slot) {
    if (holds_slot) return retrying_ <= Allowed();
    if (retrying_ >= Allowed()) return false;
    ++retrying_;
    return true;
  }
  void Release() { --retrying_; }

  size_t Allowed() const {
    return std::max<size_t>(options_.min_concurrency, requests_ * options_.percent / 100);
  }
  size_t retrying() const { return retrying_; }

 private:
  RetryBudgetOptions options_;
  size_t requests_ = 0;
  size_t retrying_ = 0;
};

}  // namespace xgate::proxy
