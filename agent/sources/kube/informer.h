// One kind's list-then-watch loop, after client-go's reflector: list (paged) and hand every
// object to the sink, watch from the list's resourceVersion with bookmarks, resume a watch
// that ends from the last resourceVersion seen, list again on 410 Gone, back off (with
// jitter, Retry-After honoured) on errors, 429 and 5xx. While the API server is unreachable
// the sink keeps what it has.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/sources/kube/backoff.h"
#include "agent/sources/kube/client.h"

namespace xgate::kube {

// Where an informer's objects go. Called from the informer's thread.
class InformerSink {
 public:
  virtual ~InformerSink() = default;
  // A complete list of the kind: objects the sink holds that are not in it are gone.
  virtual void Replace(const std::string& kind, std::vector<nlohmann::json> objects) = 0;
  virtual void Upsert(const std::string& kind, nlohmann::json object) = 0;
  virtual void Remove(const std::string& kind, const nlohmann::json& object) = 0;
};

// A stop request several threads wait on.
class StopSignal {
 public:
  void Stop();
  bool stopped() const { return stopped_.load(); }
  const std::atomic<bool>& flag() const { return stopped_; }
  // Sleeps `d`; true when stopped meanwhile (returns at once then).
  bool WaitFor(std::chrono::milliseconds d);

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

struct InformerOptions {
  int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in [min, 2 * min), as client-go
  // does, so watches are spread and re-established regularly.
  std::chrono::seconds min_watch_timeout{300};
  Backoff::Options backoff;
};

class Informer {
 public:
  // `kind` as Kubernetes spells it ("HTTPRoute"); `field_selector` narrows list and watch
  // (Secrets: "type=kubernetes.io/tls"). A server that does not know the selector (400) is
  // asked without it: the sink must not rely on it.
  Informer(Client& client, Resource resource, std::string kind, InformerSink& sink,
           InformerOptions options = {}, std::string field_selector = "");

  // Lists and watches until `stop`.
  void Run(StopSignal& stop);

  const Resource& resource() const { return resource_; }
  const std::string& kind() const { return kind_; }
  bool synced() const { return synced_.load(); }
  uint64_t watch_restarts() const { return watch_restarts_.load(); }
  uint64_t relists() const { return relists_.load(); }
  // The last resourceVersion seen (list, event or bookmark).
  std::string resource_version() const;

  // Decoding what the API server sent (List and Watch use these; so does the fuzz target
  // tests/fuzz/kube_fuzz.cc, with no server):
  // One list page (the answer's JSON): its items, apiVersion and kind filled in, appended to
  // `objects`, and its metadata's resourceVersion and continue token; false when the page is
  // not a list (then nothing changes).
  bool DecodeListPage(nlohmann::json page, std::vector<nlohmann::json>& objects,
                      std::string& resource_version, std::string& continue_token) const;
  enum class EventResult { kGoOn, kRelist, kBackoff };
  // One watch event, handed to the sink; an ERROR event ends the watch (410 Gone: relist).
  EventResult HandleWatchEvent(const WatchEvent& event);

 private:
  struct Outcome {
    enum { kOk, kRelist, kBackoff } next = kOk;
    std::optional<std::chrono::seconds> retry_after;
  };
  Outcome List();
  Outcome Watch(StopSignal& stop);
  Outcome FromResponse(const absl::StatusOr<Response>& response, const char* what);
  // Fills apiVersion and kind (list items carry neither).
  void Complete(nlohmann::json& object) const;
  void SetResourceVersion(const nlohmann::json& object);

  Client& client_;
  const Resource resource_;
  const std::string kind_;
  InformerSink& sink_;
  const InformerOptions options_;
  // Dropped when the server refuses it (400): the sink filters then.
  std::string field_selector_;
  Backoff backoff_;
  mutable std::mutex rv_mu_;
  std::string rv_;
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> watch_restarts_{0};
  std::atomic<uint64_t> relists_{0};
};

}  // namespace xgate::kube
