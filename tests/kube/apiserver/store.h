// The object store: every object by (group/resource, namespace/name), one global
// resourceVersion counter, and a bounded history of changes that watches replay from. A watch
// from a resourceVersion older than the history (compacted) gets 410 Expired.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace xgate::kubetest {

struct WatchEvent {
  uint64_t rv = 0;
  std::string store_key;  // group/resource
  std::string type;       // ADDED, MODIFIED, DELETED
  nlohmann::json object;
  nlohmann::json previous;  // the object before the change; null for ADDED
};

// "namespace/name" ("/name" when cluster-scoped): the order of lists and continue tokens.
std::string ObjectKey(const std::string& ns, const std::string& name);

class Store {
 public:
  explicit Store(size_t history_limit) : history_limit_(history_limit) {}

  uint64_t Head() const;
  // The resourceVersion of the last write under `store_key` (0: none since start or load).
  uint64_t Revision(const std::string& store_key) const;
  std::optional<nlohmann::json> Get(const std::string& store_key, const std::string& key) const;
  // Objects after `after_key` in key order, and the head resourceVersion they are current at.
  std::vector<nlohmann::json> List(const std::string& store_key, uint64_t* head,
                                   const std::string& after_key = "") const;
  // The same objects with their keys, seen in place under the store's lock (nothing copied)
  // until `visit` returns false: a page of a large list copies only its own objects.
  void Visit(const std::string& store_key, uint64_t* head, const std::string& after_key,
             const std::function<bool(const std::string& key, const nlohmann::json&)>& visit) const;
  std::vector<std::string> StoreKeys() const;

  // `mutate` sees the current object (null when absent) under the store's lock and returns the
  // new one (nullopt: delete it) or an error. The new object gets the next resourceVersion;
  // an update that changes nothing is no write and no event, as in the real server.
  using Mutation =
      std::function<absl::StatusOr<std::optional<nlohmann::json>>(const nlohmann::json* current)>;
  // With `dry_run` the result is computed and returned but not stored.
  absl::StatusOr<nlohmann::json> Write(const std::string& store_key, const std::string& key,
                                       const Mutation& mutate, bool dry_run = false);

  // Events of `store_key` after `rv`, waiting until `deadline` for one to come. OutOfRange when
  // `rv` is older than the history. `head` is the resourceVersion the answer is complete at.
  absl::StatusOr<std::vector<WatchEvent>> EventsAfter(
      const std::string& store_key, uint64_t rv, std::chrono::steady_clock::time_point deadline,
      uint64_t* head) const;
  uint64_t CompactedAt() const;

  // Drops the whole history: every watch from an older resourceVersion now gets 410.
  void Compact();
  // Wakes every waiting watch; they end their streams.
  void Stop();
  bool Stopping() const;

  absl::Status Save(const std::filesystem::path& file) const;
  absl::Status Load(const std::filesystem::path& file);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  size_t history_limit_;
  uint64_t rv_ = 1;
  uint64_t compacted_ = 1;  // the history holds every event after this resourceVersion
  bool stopping_ = false;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;
  std::map<std::string, uint64_t> revisions_;  // store key -> rv of its last write
  std::deque<WatchEvent> history_;
};

}  // namespace xgate::kubetest
