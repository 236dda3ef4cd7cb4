// Keeps the status writer out of the way of a change being programmed: the reconcile loop
// says which store version it has programmed, and the writer, before each object it reads and
// writes, waits while the store holds a change not programmed yet (on a 2-core node, the status
// writes of 10,000 new routes took the CPU a change's reload and the proxy's apply wanted). A
// wait is bounded; one that runs out lets the writer go on unpaced until the reconcile catches
// up, so a change stream that never pauses cannot hold status back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace xgate::kube {

class ProgramFirst {
 public:
  // `version`: the store's change count (sources::ObjectStore::version).
  ProgramFirst(std::function<uint64_t()> version, std::chrono::milliseconds most);

  // The reconcile loop: every change up to `version` is programmed.
  void Programmed(uint64_t version);

  enum class Waited {
    kNothingPending,  // returned at once
    kProgrammed,      // waited until the pending changes were programmed
    kTimedOut,        // waited `most`; the next waits return at once until the reconcile catches up
    kUnpaced,         // returned at once: a wait ran out and the reconcile has not caught up yet
  };
  // The writer, before each object.
  Waited Wait();
  // Writers waiting now (for tests).
  int waiting() const;

 private:
  bool Pending() const;  // mu_ held

  const std::function<uint64_t()> version_;
  const std::chrono::milliseconds most_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t programmed_ = 0;
  bool unpaced_ = false;
  int waiting_ = 0;
};

}  // namespace xgate::kube
