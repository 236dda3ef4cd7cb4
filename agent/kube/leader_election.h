// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// the holder renews the Lease every retry period; another agent takes it over once the record
// it observed has not changed for a lease duration by its own clock (no clock is compared
// across nodes), or at once when holderIdentity is empty (a holder that released it on
// SIGTERM). Writes are conditional on the Lease's resourceVersion, so of two agents that try
// at once one gets 409 and reads again.
//
// Every agent programs its own node whatever this says; only the holder writes status.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "agent/kube/api.h"

namespace xgate::kube {

struct LeaseOptions {
  std::string ns = "xgate-system";  // --namespace
  std::string name = "xgate-status-writer";
  std::string identity;  // --node-name
  // How long a record that stopped changing stays the holder's (leaseDurationSeconds).
  std::chrono::seconds lease_duration{15};
  // The holder that could not renew for this long stops acting as holder; shorter than
  // lease_duration so it stops before anyone else may take over.
  std::chrono::milliseconds renew_deadline{10000};
  // Between two attempts to acquire or renew.
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Fails (in Start and Try...) with no call made when the options cannot work: an empty
  // identity, or renew_deadline not under lease_duration, or retry_period not under
  // renew_deadline. `clock` is injectable for tests.
  LeaderElector(Api& api, LeaseOptions options, Clock clock = std::chrono::steady_clock::now);
  ~LeaderElector();  // Stop(false)
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  static absl::Status Validate(const LeaseOptions& options);

  // One round: read the Lease, then create it, renew it, or take it over where allowed.
  // True when this agent holds the Lease afterwards.
  bool TryAcquireOrRenew();
  // Ends this agent's hold once the last renewal is renew_deadline old (called by the loop
  // after each round; tests call it with their clock).
  void CheckRenewDeadline();
  // Gives the Lease up (holderIdentity cleared, leaseTransitions kept) when this agent holds
  // it, so the next agent takes over at its next retry instead of after a lease duration.
  absl::Status Release();

  // Runs rounds every retry period on a thread of its own until Stop.
  absl::Status Start();
  // Ends the loop (waits for a round in progress); `release`: then Release().
  void Stop(bool release);

  // This agent holds the Lease and renewed it less than renew_deadline ago.
  bool IsLeader() const;
  // The holder in the record last read ("" when none).
  std::string ObservedHolder() const;
  // Times this agent started or stopped holding the Lease.
  uint64_t transitions() const;
  // Called with the new IsLeader() each time it changes (on the thread that saw it; keep it
  // short). Add before Start.
  void AddObserver(std::function<void(bool leader)> on_change);

  const LeaseOptions& options() const { return options_; }

 private:
  std::string LeasePath() const;
  nlohmann::json NewRecord() const;
  // Takes in the spec of a Lease read from the server (the observed record and its time).
  void Observe(const nlohmann::json& spec, std::chrono::steady_clock::time_point now);
  void BecomeHolder(const nlohmann::json& spec, std::chrono::steady_clock::time_point now);
  void SetLeader(bool leader);
  void Loop();

  Api& api_;
  const LeaseOptions options_;
  const Clock clock_;
  std::vector<std::function<void(bool)>> observers_;

  mutable std::mutex mu_;
  std::string observed_spec_;  // the spec last read or written, serialized
  std::string observed_holder_;
  std::chrono::steady_clock::time_point observed_time_{};  // when observed_spec_ last changed
  std::chrono::steady_clock::time_point last_renew_{};
  bool leader_ = false;
  uint64_t transitions_ = 0;

  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

// A Lease's MicroTime: RFC 3339 with microseconds, in UTC ("2026-12-05T23:35:48.123456Z").
std::string NowMicroTime();

}  // namespace xgate::kube
