// Manifests as the runner handles them: split into documents (each kept as written), the
// identity of each object, the Services it must start echo pods for, and the objects the
// runner writes itself (EndpointSlices, E3; kubernetes.io/tls Secrets, E5).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::conformance {

struct Object {
  std::string api_version;
  std::string kind;
  std::string ns;  // empty for cluster-scoped kinds
  std::string name;
  std::string text;  // the document as written

  std::string Key() const { return kind + "/" + ns + "/" + name; }
  // A file name for the agent's folder, unique per object.
  std::string FileName() const;
};

struct ServicePort {
  std::string name;
  std::string protocol;  // TCP | UDP | SCTP
  int port = 0;
  int target_port = 0;            // the Service's targetPort, its port where unset or named
  std::string app_protocol = {};  // "kubernetes.io/h2c": its echo speaks h2c (X5)
};

struct Service {
  std::string ns;
  std::string name;
  std::vector<ServicePort> ports;
  bool grpc = false;  // labelled xgate.dev/echo: grpc: its echo serves GrpcEcho (X6)
};

bool IsClusterScoped(const std::string& kind);

// Splits a manifests block on "---" lines; `file` and `first_line` locate errors.
absl::StatusOr<std::vector<Object>> SplitManifests(const std::string& text, const std::string& file,
                                                   int first_line);
// The Services among `objects`.
absl::StatusOr<std::vector<Service>> ServicesOf(const std::vector<Object>& objects);

// One EndpointSlice for a Service with one ready endpoint per address (E3).
Object EndpointSliceFor(const Service& svc, const std::vector<std::string>& addresses);
// A kubernetes.io/tls Secret as `kubectl get -o yaml` shows it (PEM, base64 in data).
// X6 (tests/conformance/FORMAT.md): a ConfigMap whose ca.crt is `ca_pem`.
Object CaConfigMapObject(const std::string& ns, const std::string& name, const std::string& ca_pem);
Object TlsSecret(const std::string& ns, const std::string& name, const std::string& cert_pem,
                 const std::string& key_pem);

}  // namespace xgate::conformance
