// The server's own CA and serving certificate (OpenSSL), and the kubeconfig files for kubectl
// and the agent.
#pragma once

#include <absl/status/status.h>

#include <filesystem>
#include <string>
#include <vector>

namespace xgate::kubetest {

// Keeps dir/ca.crt and dir/ca.key when present (a restart keeps the CA its clients trust),
// else makes them; then issues dir/server.crt and dir/server.key for `hosts` (IP addresses or
// DNS names) signed by that CA.
absl::Status MakeCertificates(const std::filesystem::path& dir,
                              const std::vector<std::string>& hosts);

// A kubeconfig with one cluster (`server`, the CA inline), one user (the bearer token) and a
// current context, written atomically.
absl::Status WriteKubeconfig(const std::filesystem::path& file, const std::string& server,
                             const std::filesystem::path& ca_file, const std::string& user,
                             const std::string& token);

}  // namespace xgate::kubetest
