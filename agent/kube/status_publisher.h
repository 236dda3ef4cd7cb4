// Hands each newly bound state to the StatusWriter on a thread of its own, only while this
// agent holds the Lease: the data plane never waits for the API server. Only the newest
// state is written (states that came while a write ran are skipped); a failed write is
// retried after `retry`; becoming the holder writes the newest state again (with a sweep of
// every route, since the previous holder may have left entries of xgate's anywhere).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/binder/binder.h"
#include "agent/kube/leader_election.h"
#include "agent/kube/status_writer.h"
#include "agent/model/objects.h"

namespace xgate::kube {

class StatusPublisher {
 public:
  // Registers itself with `elector` (AddObserver): call before elector.Start().
  StatusPublisher(StatusWriter& writer, LeaderElector& elector,
                  std::chrono::milliseconds retry = std::chrono::seconds(2));
  ~StatusPublisher();  // Stop()
  StatusPublisher(const StatusPublisher&) = delete;
  StatusPublisher& operator=(const StatusPublisher&) = delete;

  // The newest bound state: `store` is what `statuses` were computed from (both kept alive
  // here, neither copied: aliasing shared_ptrs into the pipeline's State do it).
  void Publish(std::shared_ptr<const model::Store> store,
               std::shared_ptr<const binder::Statuses> statuses);
  void Publish(std::shared_ptr<const model::Store> store, binder::Statuses statuses) {
    Publish(std::move(store), std::make_shared<const binder::Statuses>(std::move(statuses)));
  }

  // Ends the thread after the write in progress, if any.
  void Stop();

  // Writes done since start whose every object ended up to date (for tests and logs).
  uint64_t clean_writes() const;

 private:
  void LeadershipChanged(bool leader);
  void Loop();

  StatusWriter& writer_;
  LeaderElector& elector_;
  const std::chrono::milliseconds retry_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const model::Store> store_;
  std::shared_ptr<const binder::Statuses> statuses_;
  bool pending_ = false;  // the newest state is not written yet
  bool stopping_ = false;
  uint64_t clean_writes_ = 0;
  std::thread thread_;
};

}  // namespace xgate::kube
