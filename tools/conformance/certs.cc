#include "tools/conformance/certs.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace xgate::conformance {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter>;
using CertPtr = std::unique_ptr<X509, Deleter>;
using BioPtr = std::unique_ptr<BIO, Deleter>;

absl::Status Fail(absl::string_view what) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", what));
}

std::string BioText(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, n);
}

absl::StatusOr<std::string> CertPem(X509* c) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(b.get(), c) != 1) return Fail("writing a certificate");
  return BioText(b.get());
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail("writing a key");
  }
  return BioText(b.get());
}

bool IsIp(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Fail(absl::StrCat("extension ", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// A new certificate for `key` named `cn`, valid from an hour ago for a week.
absl::StatusOr<CertPtr> NewCert(EVP_PKEY* key, const std::string& cn) {
  CertPtr c(X509_new());
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 7 * 24 * 3600);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("xgate conformance"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return c;
}

}  // namespace

struct CertAuthority::Impl {
  KeyPtr key;
  CertPtr cert;
};

CertAuthority::CertAuthority(CertAuthority&&) noexcept = default;
CertAuthority& CertAuthority::operator=(CertAuthority&&) noexcept = default;
CertAuthority::~CertAuthority() = default;

absl::StatusOr<CertAuthority> CertAuthority::Create(const std::string& common_name) {
  CertAuthority ca;
  ca.impl_ = std::make_unique<Impl>();
  ca.impl_->key.reset(EVP_EC_gen("P-256"));
  if (!ca.impl_->key) return Fail("generating the CA key");
  absl::StatusOr<CertPtr> cert = NewCert(ca.impl_->key.get(), common_name);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  for (auto [nid, v] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                        std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                        std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status st = AddExt(c, c, nid, v); !st.ok()) return st;
  }
  if (X509_sign(c, ca.impl_->key.get(), EVP_sha256()) == 0) return Fail("signing the CA");
  ca.impl_->cert = *std::move(cert);
  absl::StatusOr<std::string> pem = CertPem(ca.impl_->cert.get());
  if (!pem.ok()) return pem.status();
  ca.ca_pem_ = *pem;
  return ca;
}

absl::StatusOr<IssuedCert> CertAuthority::Issue(const std::vector<std::string>& hosts) const {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Fail("generating a key");
  absl::StatusOr<CertPtr> cert = NewCert(key.get(), hosts.empty() ? "xgate" : hosts[0]);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(impl_->cert.get()));
  std::vector<std::string> sans;
  for (const std::string& h : hosts) {
    // X6: "scheme://..." is a URI SAN (a SPIFFE id, for BackendTLSPolicy's subjectAltNames).
    const char* type = absl::StrContains(h, "://") ? "URI:" : IsIp(h) ? "IP:" : "DNS:";
    sans.push_back(absl::StrCat(type, h));
  }
  for (auto [nid, v] :
       {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
        std::pair{NID_key_usage, std::string("critical,digitalSignature,keyEncipherment")},
        // X11: any runner-made certificate may also be a client certificate.
        std::pair{NID_ext_key_usage, std::string("serverAuth,clientAuth")},
        std::pair{NID_authority_key_identifier, std::string("keyid:always")},
        std::pair{NID_subject_alt_name, absl::StrJoin(sans, ",")}}) {
    if (absl::Status st = AddExt(c, impl_->cert.get(), nid, v); !st.ok()) return st;
  }
  if (X509_sign(c, impl_->key.get(), EVP_sha256()) == 0) return Fail("signing a certificate");
  absl::StatusOr<std::string> pem = CertPem(c);
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  if (!pem.ok()) return pem.status();
  if (!key_pem.ok()) return key_pem.status();
  return IssuedCert{*pem + ca_pem_, *key_pem};
}

}  // namespace xgate::conformance
