// What the server holds at start: the namespaces a new cluster has, and the manifests given
// with --preload (e.g. deploy/, so the CRDs and the agent's RBAC exist), created as the admin.
#pragma once

#include <absl/status/status.h>

#include <filesystem>
#include <vector>

#include "tests/kube/apiserver/resources.h"

namespace xgate::kubetest {

// `restored`: the store came from --state; objects that exist already are kept as they are.
absl::Status Bootstrap(Resources& resources, const std::vector<std::filesystem::path>& manifests,
                       bool restored);

}  // namespace xgate::kubetest
