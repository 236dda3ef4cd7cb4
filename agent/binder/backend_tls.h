// BackendTLSPolicy: which policy holds each routed Service port (the oldest of those naming
// the same Service and sectionName; the others are Conflicted), whether its CA references
// resolve, and its status per Gateway that routes to the Service (status.ancestors).
#pragma once

#include <map>
#include <optional>
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

// caCertificateRefs to ConfigMaps with a PEM `ca.crt`, as BackendTLSPolicy and a Gateway's
// frontend client certificate validation name them.
struct CaRefs {
  enum class Problem { kNone, kUnsupportedKind, kUnresolved, kNotPermitted };
  std::string pem;  // the valid refs' ca.crt, concatenated
  int valid = 0;
  Problem problem = Problem::kNone;  // the first one
  std::string message;               // what the first problem was
};

// Resolves `refs` written by an object of `from_kind` in `from_ns` (a ref without namespace
// is in `from_ns`; another namespace needs a ReferenceGrant).
CaRefs ResolveCaConfigMaps(const Store& store, const std::vector<model::ObjectReference>& refs,
                           const std::string& from_kind, const std::string& from_ns);

// A Gateway's spec.tls.backend.clientCertificateRef. Unset: the Gateway names none.
struct BackendClientCertificate {
  const model::Secret* secret = nullptr;  // set when the reference resolves
  // The Gateway's ResolvedRefs False reason when it does not (InvalidClientCertificateRef,
  // RefNotPermitted) and why.
  std::string reason;
  std::string message;
};
std::optional<BackendClientCertificate> ResolveBackendClientCertificate(const Store& store,
                                                                        const model::Gateway& gw);

}  // namespace xgate::binder
