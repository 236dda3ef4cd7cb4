// The run's certificate authority and the certificates it issues (FORMAT.md E5): ECDSA
// P-256 keys, the hosts as subjectAltNames (IP literals as IP SANs), valid from now.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::conformance {

struct IssuedCert {
  std::string chain_pem;  // the certificate followed by the CA
  std::string key_pem;    // PKCS#8
};

class CertAuthority {
 public:
  static absl::StatusOr<CertAuthority> Create(const std::string& common_name);
  CertAuthority(CertAuthority&&) noexcept;
  CertAuthority& operator=(CertAuthority&&) noexcept;
  ~CertAuthority();

  absl::StatusOr<IssuedCert> Issue(const std::vector<std::string>& hosts) const;
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  struct Impl;
  CertAuthority() = default;
  std::unique_ptr<Impl> impl_;
  std::string ca_pem_;
};

}  // namespace xgate::conformance
