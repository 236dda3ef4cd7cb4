// An in-memory peer for kube::Api that keeps objects the way the API server does for the
// calls the Lease and the status writer make: resourceVersion moves on every write and a
// write with a stale one gets 409; POST of an existing name gets 409; the main resource
// ignores status and /status takes only status (for kinds with a status subresource);
// metadata.generation moves on spec changes only. `before_write` lets a test act as another
// writer between a read and the write that follows it. A list is paged (limit, continue)
// in path order; each page is read from the objects as they are when it is asked for, not
// from one snapshot, and a continue token handed out before ExpireContinueTokens() gets 410.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/kube/api.h"

namespace xgate::kube::testing {

class InMemoryApi : public Api {
 public:
  absl::StatusOr<Response> Get(const std::string& path) override;
  absl::StatusOr<Response> List(const std::string& path, const ListOptions& options) override;
  absl::StatusOr<Response> Create(const std::string& path, const nlohmann::json& object) override;
  absl::StatusOr<Response> Update(const std::string& path, const nlohmann::json& object) override;
  absl::StatusOr<Response> UpdateStatus(const std::string& path,
                                        const nlohmann::json& object) override;

  // Puts an object at `path` (its object path) as a client's create would.
  void Put(const std::string& path, nlohmann::json object);
  // Removes the object at `path`, as a client's delete would.
  void Remove(const std::string& path);
  // The object at `path`, null when none.
  nlohmann::json Object(const std::string& path) const;

  // While false every call fails with no answer (the server is unreachable).
  void SetReachable(bool reachable);
  // Called (without the lock) before each Create, Update or UpdateStatus is carried out.
  void SetBeforeWrite(std::function<void(const std::string& method, const std::string& path)> f);

  // Every LIST is answered with this code (a Status object) from now on; 0: listed again.
  void SetListFailure(long code);
  // Continue tokens handed out so far get 410 Gone (as once the server compacted past them).
  void ExpireContinueTokens();
  // Called (without the lock) after each LIST page is answered, with the page.
  void SetAfterList(std::function<void(const Response&)> f);

  // Calls answered so far, by method ("GET", "LIST", "POST", "PUT", "PUT status").
  int Calls(const std::string& method) const;

 private:
  absl::StatusOr<Response> Write(const std::string& method, const std::string& path,
                                 const nlohmann::json& object, bool status_only);
  Response Store(const std::string& path, nlohmann::json object);  // mu_ held

  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;
  int64_t resource_version_ = 100;
  bool reachable_ = true;
  std::function<void(const std::string&, const std::string&)> before_write_;
  std::function<void(const Response&)> after_list_;
  long list_failure_ = 0;
  int64_t token_generation_ = 0;  // in each continue token; moved by ExpireContinueTokens
  std::map<std::string, int> calls_;
};

// A view of another InMemoryApi that counts its own calls: one per agent, so a test can tell
// which agent wrote.
class CountingApi : public Api {
 public:
  explicit CountingApi(Api& server) : server_(server) {}
  absl::StatusOr<Response> Get(const std::string& path) override;
  absl::StatusOr<Response> List(const std::string& path, const ListOptions& options) override;
  absl::StatusOr<Response> Create(const std::string& path, const nlohmann::json& object) override;
  absl::StatusOr<Response> Update(const std::string& path, const nlohmann::json& object) override;
  absl::StatusOr<Response> UpdateStatus(const std::string& path,
                                        const nlohmann::json& object) override;
  int status_writes() const { return status_writes_.load(); }

 private:
  Api& server_;
  std::atomic<int> status_writes_{0};
};

}  // namespace xgate::kube::testing
