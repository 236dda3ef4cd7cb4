// How the bench creates, changes and deletes a route (any kind: HTTPRoute, TCPRoute, ...): through
// the API server (Kubernetes mode) or as a file in a standalone agent's --manifests folder. Each
// call returns once the source has taken the change (the API server's 201/200, the file renamed
// into place); the clock starts there.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace xgate::bench {

class RouteWriter {
 public:
  virtual ~RouteWriter() = default;
  virtual absl::Status Create(const nlohmann::json& route) = 0;
  // Replaces the route's spec (same name and namespace).
  virtual absl::Status Change(const nlohmann::json& route) = 0;
  // NotFound when it is already gone.
  virtual absl::Status Delete(const nlohmann::json& route) = 0;
  // "the API server https://..." or "the folder DIR", for the output.
  virtual std::string Describe() const = 0;
};

// Through the API server of `kubeconfig` (its user needs create/patch/delete on httproutes).
absl::StatusOr<std::unique_ptr<RouteWriter>> ApiServerRouteWriter(
    const std::filesystem::path& kubeconfig);

// As DIR/<namespace>-<name>.json, written beside it and renamed into place.
std::unique_ptr<RouteWriter> FolderRouteWriter(const std::filesystem::path& dir);

// Through the API server when `kubeconfig` is given, into the folder `manifests` otherwise.
absl::StatusOr<std::unique_ptr<RouteWriter>> MakeRouteWriter(const std::string& kubeconfig,
                                                             const std::string& manifests);

}  // namespace xgate::bench
