// Passive health of upstream endpoints ("ip:port"), as Envoy's outlier detection with its
// defaults (connect errors count as 5xx) and nginx's max_fails/fail_timeout: consecutive
// failures (a 5xx response, a connect refused or timed out, a reset or close before any
// response byte) eject an endpoint for a back-off that doubles with each ejection since its
// last success, up to a cap. When the back-off ends the endpoint is readmitted: the next
// request tries it; a success clears its record, a failure ejects it again at once.
//
// One per worker, not shared: the request path takes no lock and touches no shared cache
// line. The cost is that each worker learns of a dead endpoint by itself, at most
// `failures_to_eject` connect attempts per worker, and those are retried elsewhere (see
// Exchange), so no request fails for it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace xgate::proxy {

struct EjectionOptions {
  int failures_to_eject = 5;  // consecutive failures
  std::chrono::milliseconds base{5000};
  std::chrono::milliseconds max{60000};
};

class EndpointHealth {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  explicit EndpointHealth(EjectionOptions options, Now now = Clock::now)
      : options_(options), now_(std::move(now)) {}

  bool Ejected(const std::string& endpoint) const;
  // A success clears the endpoint's record.
  void Succeeded(const std::string& endpoint) { records_.erase(endpoint); }
  // Counts a failure; returns the back-off when this failure ejected the endpoint, else 0.
  std::chrono::milliseconds Failed(const std::string& endpoint);
  // Drops the records of endpoints not in `keep` (those that left the config).
  void Retain(const std::unordered_set<std::string>& keep);

  size_t tracked() const { return records_.size(); }

 private:
  struct Record {
    int consecutive_failures = 0;
    int ejections = 0;  // since the last success: the back-off's exponent
    Clock::time_point ejected_until{};
  };
  EjectionOptions options_;
  Now now_;
  std::unordered_map<std::string, Record> records_;
};

}  // namespace xgate::proxy
