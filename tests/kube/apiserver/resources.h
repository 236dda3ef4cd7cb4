// The REST semantics of one resource: create, get, list (selectors, limit/continue), update
// with resourceVersion preconditions, merge and strategic merge patch, delete, and the
// /status subresource. Status is ignored by the main resource and everything but status by
// /status; metadata.generation moves only when the spec (all but metadata and status) does.
#pragma once

#include <absl/status/statusor.h>

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/kube/apiserver/kinds.h"
#include "tests/kube/apiserver/store.h"

namespace xgate::kubetest {

// The query parameters a request may carry.
using Query = std::map<std::string, std::string>;

class Resources {
 public:
  explicit Resources(Store& store) : store_(store) {}

  // Built-in kinds and those of the stored CRDs, as discovery shows them now.
  std::vector<Kind> Kinds() const;
  // The kind served at group/version/resource, if any.
  std::optional<Kind> Find(const std::string& group, const std::string& version,
                           const std::string& resource) const;

  absl::StatusOr<nlohmann::json> Create(const Kind& kind, const std::string& ns,
                                        nlohmann::json object, bool dry_run);
  absl::StatusOr<nlohmann::json> Get(const Kind& kind, const std::string& ns,
                                     const std::string& name) const;
  absl::StatusOr<nlohmann::json> List(const Kind& kind, const std::string& ns,
                                      const Query& query) const;
  // PUT: `status_only` for the /status subresource.
  absl::StatusOr<nlohmann::json> Update(const Kind& kind, const std::string& ns,
                                        const std::string& name, nlohmann::json object,
                                        bool status_only, bool dry_run);
  absl::StatusOr<nlohmann::json> Patch(const Kind& kind, const std::string& ns,
                                       const std::string& name, const std::string& content_type,
                                       const nlohmann::json& patch, bool status_only, bool dry_run);
  // `options`: a DeleteOptions body (preconditions), or null.
  absl::StatusOr<nlohmann::json> Delete(const Kind& kind, const std::string& ns,
                                        const std::string& name, const nlohmann::json& options);

  // The object as served at `kind`'s version (CRD conversion "None" changes only apiVersion).
  static nlohmann::json Present(const Kind& kind, nlohmann::json object);

 private:
  using MakeBody = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& current)>;
  absl::StatusOr<nlohmann::json> Replace(const Kind& kind, const std::string& ns,
                                         const std::string& name, const MakeBody& make_body,
                                         bool status_only, bool dry_run);
  void DeleteAll(const std::string& store_key, const std::string& ns);

  Store& store_;
  // Kinds() by the CRDs' revision: the CRDs are large, and every request asks.
  mutable std::mutex kinds_mu_;
  mutable uint64_t kinds_revision_ = 0;
  mutable std::vector<Kind> kinds_;
};

}  // namespace xgate::kubetest
