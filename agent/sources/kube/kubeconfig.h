// Where the API server is and how to authenticate to it: from a kubeconfig file (its
// current-context) or from the pod's service account (in-cluster).
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace xgate::kube {

struct Config {
  std::string server;  // "https://host:port" (no trailing slash)
  // The CA that signs the server's certificate: PEM text, or a file holding it. Neither set:
  // the system's trust store.
  std::string ca_pem;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
  // A bearer token, or a file holding it (re-read when it changes).
  std::string token;
  std::string token_file;
  // A client certificate and its key: PEM text or files.
  std::string client_cert_pem;
  std::string client_cert_file;
  std::string client_key_pem;
  std::string client_key_file;
  // The context's namespace (in-cluster: the pod's), "" when none is given.
  std::string ns;
  // Where this came from, for messages: "kubeconfig FILE (context NAME)" or "in-cluster".
  std::string origin;
};

// Reads a kubeconfig: the cluster and user of `context`, or of current-context when empty.
// Relative file paths in it are relative to the kubeconfig's folder; *-data fields are base64.
// Errors name the file and what is missing or wrong.
absl::StatusOr<Config> LoadKubeconfig(const std::filesystem::path& file,
                                      const std::string& context = "");

// Parses kubeconfig text; `dir` resolves relative paths, `origin` names it in errors.
absl::StatusOr<Config> ParseKubeconfig(const std::string& text, const std::filesystem::path& dir,
                                       const std::string& origin, const std::string& context = "");

// The pod's service account: KUBERNETES_SERVICE_HOST/PORT, and under `sa_dir`
// (/var/run/secrets/kubernetes.io/serviceaccount) ca.crt, token (as a token file) and namespace.
absl::StatusOr<Config> InClusterConfig(
    const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace xgate::kube
