// Exponential backoff with jitter for calls to the API server: each failure doubles the
// wait up to a cap; a server's Retry-After is honoured (never waited less).
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace xgate::kube {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{200};
    std::chrono::milliseconds cap{30000};
    double jitter = 0.2;  // each wait is drawn in [base * (1 - jitter), base * (1 + jitter)]
  };
  // `uniform` returns a number in [0, 1): the jitter's source (a test passes a fixed one).
  explicit Backoff(Options options, std::function<double()> uniform = nullptr);

  // The wait before the next attempt after a failure; `retry_after` from the server's answer.
  std::chrono::milliseconds Next(std::optional<std::chrono::seconds> retry_after = std::nullopt);
  // After a success: the next failure waits `initial` again.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Options options_;
  std::function<double()> uniform_;
  int failures_ = 0;
};

}  // namespace xgate::kube
