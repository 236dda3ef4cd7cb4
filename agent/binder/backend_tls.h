// BackendTLSPolicy: which policy holds each routed Service port (the oldest of those naming
// the same Service and sectionName; the others are Conflicted), whether its CA references
// resolve, and its status per Gateway that routes to the Service (status.ancestors).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/binder/binder.h"

namespace xgate::binder {

// The TLS settings per cluster name of the Service ports `listeners` route to, and the
// status of every policy targeting one of them (into `statuses`).
std::map<std::string, BackendTLS> BindBackendTLSPolicies(
    const Store& store, const std::vector<BoundListener>& listeners, const std::string& now,
    std::map<model::ObjectKey, model::PolicyStatus>& statuses);

// How many PEM certificates `pem` holds (0 when none parses).
int CountPemCertificates(const std::string& pem);

}  // namespace xgate::binder
