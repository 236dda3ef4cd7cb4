// The API server calls the Lease and the status writer make (its sweep lists routes), behind
// an interface so unit tests can answer them from an in-memory peer. ClientApi forwards them to the
// real client.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "agent/sources/kube/client.h"

namespace xgate::kube {

// Each call returns the HTTP answer whatever its code (409, 404, ...); a not-OK status means
// no answer at all, as Client's calls do.
class Api {
 public:
  virtual ~Api() = default;
  virtual absl::StatusOr<Response> Get(const std::string& path) = 0;
  // One page of a collection's list (`path` as Resource::Path() gives it): the next page from
  // the answer's metadata.continue; a 410 to a continue token means list again from the start.
  virtual absl::StatusOr<Response> List(const std::string& path, const ListOptions& options) = 0;
  // POST to a collection.
  virtual absl::StatusOr<Response> Create(const std::string& path,
                                          const nlohmann::json& object) = 0;
  // PUT of a whole object; its metadata.resourceVersion makes the write conditional (409).
  virtual absl::StatusOr<Response> Update(const std::string& path,
                                          const nlohmann::json& object) = 0;
  // PUT to `path`/status: only the status of `object` is taken.
  virtual absl::StatusOr<Response> UpdateStatus(const std::string& path,
                                                const nlohmann::json& object) = 0;
};

class ClientApi : public Api {
 public:
  explicit ClientApi(Client& client) : client_(client) {}
  absl::StatusOr<Response> Get(const std::string& path) override { return client_.Get(path); }
  absl::StatusOr<Response> List(const std::string& path, const ListOptions& options) override {
    return client_.List(path, options);
  }
  absl::StatusOr<Response> Create(const std::string& path, const nlohmann::json& object) override {
    return client_.Create(path, object);
  }
  absl::StatusOr<Response> Update(const std::string& path, const nlohmann::json& object) override {
    return client_.Update(path, object);
  }
  absl::StatusOr<Response> UpdateStatus(const std::string& path,
                                        const nlohmann::json& object) override {
    return client_.UpdateStatus(path, object);
  }

 private:
  Client& client_;
};

}  // namespace xgate::kube
