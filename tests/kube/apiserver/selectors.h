// The list and watch parameters labelSelector and fieldSelector (agent/kube/selectors.h), with
// a parse error answered as the real API server does (400 BadRequest).
#pragma once

#include <absl/status/statusor.h>

#include <string>

#include "agent/kube/selectors.h"

namespace xgate::kubetest {

using Selector = kube::Selector;

absl::StatusOr<Selector> LabelSelector(const std::string& text);
absl::StatusOr<Selector> FieldSelector(const std::string& text);

}  // namespace xgate::kubetest
