// Errors as the Kubernetes API returns them: an absl::Status that carries the HTTP code and
// the Status reason, and its rendering as a meta/v1 Status body.
#pragma once

#include <absl/status/status.h>

#include <nlohmann/json.hpp>
#include <string>

namespace xgate::kubetest {

// An error with the HTTP `code` and Status `reason` the real API server uses for it.
absl::Status ApiError(int code, const std::string& reason, const std::string& message,
                      const nlohmann::json& details = nlohmann::json::object());

int HttpCode(const absl::Status& status);

// {"kind":"Status","apiVersion":"v1","status":"Failure","reason":...,"code":...}
nlohmann::json StatusBody(const absl::Status& status);

// The messages of the real server, for a resource such as `leases.coordination.k8s.io`.
absl::Status NotFound(const std::string& group_resource, const std::string& name);
absl::Status Conflict(const std::string& group_resource, const std::string& name);

}  // namespace xgate::kubetest
