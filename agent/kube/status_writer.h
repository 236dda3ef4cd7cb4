// Writes the status the binder computed to the API server, through each object's /status
// subresource, only where it changed: the object is read as the server has it, xgate's part of
// its status merged in (status_merge.h), and written back with its resourceVersion (PUT) only
// when that changes something; a 409 reads it again and retries. An object whose status of
// xgate's is what this writer last wrote or found on it (the same object: same uid; the
// conditions' lastTransitionTime aside) is neither read nor written again, so a change among
// 10,000 routes costs the API server the objects whose status changed, not 10,000 GETs.
// A sweep (every route read: the first Write, a new Lease holder) reads each route kind with a
// paged LIST instead of one GET per route: a route whose listed status already has xgate's
// entries costs no call of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
  uint64_t list_pages = 0;         // LIST pages answered (sweeps)
  uint64_t list_errors = 0;        // LISTs failed: their kind's routes read by GET instead
  uint64_t read_listed = 0;        // objects whose read a LIST answered (no GET)
  uint64_t read_get = 0;           // objects read with a GET
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
  // the first Write after construction or SweepAllRoutes() every route of `store` (read from one
  // paged LIST per route kind when no Reader was given; a route the LIST did not have, or whose
  // LIST failed, by GET). OK when every object is up to date; else the first error (the others
  // are still written).
  absl::Status Write(const model::Store& store, const binder::Statuses& statuses);

  // The next Write reads every route, every ListenerSet without a parent, and every object it
  // has status for (what this writer remembers writing is forgotten): another agent may have
  // written entries of xgate's meanwhile (call it when this agent becomes the Lease holder).
  void SweepAllRoutes();

  StatusWriteCounters counters() const;

  // Called before each object is read and written (the agent's ProgramFirst::Wait, which
  // holds the writer while a change is being programmed). Set before the first Write.
  void SetPacer(std::function<void()> pacer) { pacer_ = std::move(pacer); }

 private:
  using Merge = std::function<nlohmann::json(const nlohmann::json& current_status,
                                             const nlohmann::json& ours)>;
  using OursIn = std::function<bool(const nlohmann::json&)>;
  // Writes `ours` into `key`'s status unless this writer knows it is there already (then
  // counted as skipped when `ours_in(ours)`). `seen` collects the keys written or skipped.
  // `from`: the route status `ours` was made from, remembered with it once confirmed.
  absl::Status WriteIfChanged(const model::Store& store, const model::ObjectKey& key,
                              const nlohmann::json& ours, const Merge& merge, const OursIn& ours_in,
                              std::set<model::ObjectKey>& seen,
                              std::shared_ptr<const model::RouteStatus> from = nullptr);
  // Whether `key`'s confirmed status was made from the very `status` object, on the same
  // object (uid, creation time): then it is counted as skipped with no print made.
  bool SkipUnchanged(const model::Store& store, const model::ObjectKey& key,
                     const std::shared_ptr<const model::RouteStatus>& status);
  // Reads, merges, writes one object. `ours_in`: whether a status has entries of xgate's
  // (counts the skipped writes only of objects that have some, before or after). `confirmed`:
  // set when the server's object now has `ours` (written, or already there). `written`, when
  // given: the status the server holds after it (ours merged in), unset when the object does
  // not exist or the write failed.
  absl::Status WriteOne(const model::ObjectKey& key, const nlohmann::json& ours, const Merge& merge,
                        const OursIn& ours_in, bool& confirmed,
                        std::optional<nlohmann::json>* written = nullptr);
  void WriteListenerSets(const model::Store& store, const binder::Statuses& statuses, bool sweep,
                         const std::function<void(absl::Status)>& keep);
  absl::StatusOr<std::optional<nlohmann::json>> Read(const Resource& resource,
                                                     const model::ObjectKey& key);
  // At a sweep: lists each route kind of `routes` the server serves into listed_ (those of
  // `routes` only). A kind whose LIST fails is left out (its routes are read by GET), warned of.
  void ListRoutes(const std::set<model::ObjectKey>& routes);
  // All of one kind's pages, into `out`; a continue token that expired (410) lists again.
  absl::Status ListKind(model::Kind kind, const Resource& resource,
                        const std::set<model::ObjectKey>& routes,
                        std::map<model::ObjectKey, std::string>& out);
  // The listed object of `key`, taken out of listed_ (answers one read only).
  std::optional<nlohmann::json> TakeListed(const model::ObjectKey& key);
  void Count(uint64_t StatusWriteCounters::*field);

  Api& api_;
  Reader reader_;
  std::function<void()> pacer_;
  mutable std::mutex mu_;
  std::map<model::Kind, Resource> resources_;
  StatusWriteCounters counters_;
  bool sweep_all_routes_ = true;
  std::set<model::ObjectKey> routes_with_ours_;  // as last read or written
  // During a sweep: the routes a LIST returned, each the answer of its first read; as compact
  // text (parsed when read), not 10,000 JSON trees held until each is written.
  std::map<model::ObjectKey, std::string> listed_;
  // Per object: its uid and the status of xgate's last written or found on it, printed
  // without lastTransitionTime (StatusPrint).
  // A route's entry also holds the status object its print was made from: a Write given the
  // same object again skips it without printing (a change among 10,000 routes prints only
  // the statuses the bind made anew).
  struct Confirmed {
    std::string print;
    std::shared_ptr<const model::RouteStatus> from;
    bool ours = false;  // the print has entries of xgate's (counted when skipped)
  };
  std::map<model::ObjectKey, Confirmed> confirmed_;
  // The status each ListenerSet had when this writer last wrote (or found) xgate's in it: one
  // that leaves xgate's Gateways is reset only while the server still holds exactly that (its
  // status has no controllerName; another controller may have written it since).
  std::map<model::Store::Key, nlohmann::json> listener_sets_written_;
};

}  // namespace xgate::kube
