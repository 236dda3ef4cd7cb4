// Writes the status the binder computed to the API server, through each object's /status
// subresource, only where it changed: the object is read as the server has it, xgate's part of
// its status merged in (status_merge.h), and written back with its resourceVersion (PUT) only
// when that changes something; a 409 reads it again and retries.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/binder/binder.h"
#include "agent/kube/api.h"
#include "agent/model/objects.h"
#include "agent/sources/kube/kind_state.h"

namespace xgate::kube {

// Where each kind xgate writes status to is served, from what the Kubernetes source reports
// (KubeSource::Kinds()); kinds the server does not serve (yet) are left out.
std::map<model::Kind, Resource> StatusResources(const std::vector<KindState>& kinds);

struct StatusWriteCounters {
  uint64_t ok = 0;                 // status written
  uint64_t conflict = 0;           // 409: read again and retried
  uint64_t error = 0;              // any other failure; retried at the next write
  uint64_t skipped_unchanged = 0;  // the server's status already was ours: no write
};

class StatusWriter {
 public:
  // Reads an object as the server has it (status and metadata.resourceVersion included);
  // nullopt when it does not exist. The default GETs it; an informer's cache may answer
  // instead (a stale answer costs one 409 and a GET).
  using Reader = std::function<absl::StatusOr<std::optional<nlohmann::json>>(
      const Resource& resource, const model::ObjectKey& key)>;

  // `resources`: the served version of each kind (discovery); a kind missing from it (its
  // CRD is not installed) gets no status.
  StatusWriter(Api& api, std::map<model::Kind, Resource> resources, Reader reader = nullptr);

  // When discovery finds a kind's CRD (or another served version) later.
  void SetResources(std::map<model::Kind, Resource> resources);

  // Writes xgate's status for: each GatewayClass, Gateway and ListenerSet in `statuses` (only
  // xgate's are there; a ListenerSet this writer wrote that is no longer there, and at a sweep
  // each one whose parent Gateway or its GatewayClass does not exist, gets the CRD's default
  // status back: see WriteListenerSets), and the routes where xgate has parents entries to set,
  // replace or remove: those in `statuses`, those this writer saw with entries of xgate's, and at
  // the first Write after construction or SweepAllRoutes() every route of `store`. OK when every
  // object is up to date; else the first error (the others are still written).
  absl::Status Write(const model::Store& store, const binder::Statuses& statuses);

  // The next Write reads every route and every ListenerSet without a parent: another agent may
  // have written entries of xgate's meanwhile (call it when this agent becomes the Lease
  // holder).
  void SweepAllRoutes();

  StatusWriteCounters counters() const;

 private:
  using Merge = std::function<nlohmann::json(const nlohmann::json& current_status)>;
  // Reads, merges, writes one object. `ours_in`: whether a status has entries of xgate's
  // (counts the skipped writes only of objects that have some, before or after).
  // `written`, when given: the status the server holds after it (ours merged in), unset when
  // the object does not exist or the write failed.
  absl::Status WriteOne(const model::ObjectKey& key, const Merge& merge,
                        const std::function<bool(const nlohmann::json&)>& ours_in,
                        std::optional<nlohmann::json>* written = nullptr);
  void WriteListenerSets(const model::Store& store, const binder::Statuses& statuses, bool sweep,
                         const std::function<void(absl::Status)>& keep);
  absl::StatusOr<std::optional<nlohmann::json>> Read(const Resource& resource,
                                                     const model::ObjectKey& key);
  void Count(uint64_t StatusWriteCounters::*field);

  Api& api_;
  Reader reader_;
  mutable std::mutex mu_;
  std::map<model::Kind, Resource> resources_;
  StatusWriteCounters counters_;
  bool sweep_all_routes_ = true;
  std::set<model::ObjectKey> routes_with_ours_;  // as last read or written
  // The status each ListenerSet had when this writer last wrote (or found) xgate's in it: one
  // that leaves xgate's Gateways is reset only while the server still holds exactly that (its
  // status has no controllerName; another controller may have written it since).
  std::map<model::Store::Key, nlohmann::json> listener_sets_written_;
};

}  // namespace xgate::kube
