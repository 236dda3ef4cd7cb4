#include "userspace-proxy/server/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::proxy {
namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* offer_h2) {
  const unsigned char* ours = offer_h2 ? kAlpnH2 : kAlpnH1;
  unsigned int ours_len = offer_h2 ? sizeof(kAlpnH2) : sizeof(kAlpnH1);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, ours, ours_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN (HTTP/1.1)
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int SelectCertificate(SSL* ssl, int* alert, void* arg) {
  const auto* port = static_cast<const PortTls*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  SSL_CTX* chosen = port->Select(name ? absl::AsciiStrToLower(name) : "");
  if (chosen == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_SSL_CTX(ssl, chosen);
  // SSL_set_SSL_CTX takes the certificate, the verify store and the session id context but
  // not the verify mode: whether to ask for a client certificate is the chosen listener's.
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(chosen), SSL_CTX_get_verify_callback(chosen));
  return SSL_TLSEXT_ERR_OK;
}

// AllowInsecureFallback: the certificate is asked for, and its verification result ignored.
int AcceptUnverified(int, X509_STORE_CTX*) { return 1; }

absl::Status RequireClientCertificates(SSL_CTX* ctx, const ClientCertificatePolicy& clients) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(clients.ca_pem.data(), static_cast<int>(clients.ca_pem.size())), BIO_free);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), ca);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    X509_free(ca);
    ++count;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (count == 0) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return absl::InvalidArgumentError("client validation: no PEM CA certificate");
  }
  SSL_CTX_set0_verify_cert_store(ctx, store.release());
  SSL_CTX_set_client_CA_list(ctx, names);  // the CertificateRequest's certificate_authorities
  if (clients.allow_insecure_fallback) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptUnverified);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // A session resumes only where it was made under the same validation: one from a listener
  // that asked for no certificate, or trusted other CAs, does a full handshake here.
  std::string material = clients.ca_pem + (clients.allow_insecure_fallback ? "1" : "0");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  SSL_CTX_set_session_id_context(ctx, digest, sizeof(digest));
  return absl::OkStatus();
}

absl::Status ConfigureCommon(SSL_CTX* ctx, bool offer_h2) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot set TLS 1.2 minimum: " + OpenSslErrors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Buffers are kept per connection (no SSL_MODE_RELEASE_BUFFERS): releasing them frees and
  // reallocates ~34 KiB around every read and write of a keep-alive connection.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Pull what the socket has in one recv instead of one per record header and body; the
  // connections read until OpenSSL wants more, so nothing is left behind in its buffer.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, offer_h2 ? ctx : nullptr);
  return absl::OkStatus();
}

}  // namespace

std::string OpenSslErrors() {
  std::string text;
  while (unsigned long error = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(error, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown error" : text;
}

absl::Status UseCertificateAndKey(SSL_CTX* ctx, const std::string& cert_pem,
                                  const std::string& key_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  X509* leaf = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) return absl::InvalidArgumentError("tls.crt: no PEM certificate");
  int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) return absl::InvalidArgumentError("tls.crt: " + OpenSslErrors());
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return absl::InvalidArgumentError("tls.crt chain: " + OpenSslErrors());
    }
  }
  ERR_clear_error();  // the loop above ends on a "no start line" error

  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return absl::InvalidArgumentError("tls.key: no PEM private key");
  used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1) return absl::InvalidArgumentError("tls.key: " + OpenSslErrors());
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError("tls.key does not match tls.crt");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<SSL_CTX>> MakeCertificateContext(
    const std::string& cert_pem, const std::string& key_pem, bool offer_h2,
    const ClientCertificatePolicy* clients) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return absl::InternalError("SSL_CTX_new: " + OpenSslErrors());
  if (auto status = ConfigureCommon(ctx.get(), offer_h2); !status.ok()) return status;

  if (auto status = UseCertificateAndKey(ctx.get(), cert_pem, key_pem); !status.ok()) {
    return status;
  }
  if (clients != nullptr) {
    if (auto status = RequireClientCertificates(ctx.get(), *clients); !status.ok()) return status;
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<PortTls>> PortTls::Create(std::vector<Candidate> candidates,
                                                         bool offer_h2) {
  std::unique_ptr<PortTls> port(new PortTls());
  Rank(candidates);
  port->candidates_ = std::move(candidates);
  port->offer_h2_ = offer_h2;
  port->front_.reset(SSL_CTX_new(TLS_server_method()));
  if (!port->front_) return absl::InternalError("SSL_CTX_new: " + OpenSslErrors());
  if (auto status = ConfigureCommon(port->front_.get(), offer_h2); !status.ok()) return status;
  SSL_CTX_set_tlsext_servername_callback(port->front_.get(), SelectCertificate);
  SSL_CTX_set_tlsext_servername_arg(port->front_.get(), port.get());
  return port;
}

void PortTls::Rank(std::vector<Candidate>& candidates) {
  auto rank = [](const Candidate& c) {
    if (c.hostname.empty()) return 2;
    return absl::StartsWith(c.hostname, "*.") ? 1 : 0;
  };
  std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return a.hostname.size() > b.hostname.size();
  });
}

bool PortTls::Serves(std::vector<Candidate> candidates, bool offer_h2) const {
  if (offer_h2 != offer_h2_ || candidates.size() != candidates_.size()) return false;
  Rank(candidates);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].hostname != candidates_[i].hostname ||
        candidates[i].context != candidates_[i].context)
      return false;
  }
  return true;
}

SSL_CTX* PortTls::Select(const std::string& sni) const {
  if (sni.empty()) {
    // No SNI: the catch-all listener, else the first one.
    for (const auto& c : candidates_) {
      if (c.hostname.empty()) return c.context.get();
    }
    return candidates_.empty() ? nullptr : candidates_.front().context.get();
  }
  for (const auto& c : candidates_) {
    if (routing::HostnameMatches(c.hostname, sni)) return c.context.get();
  }
  return nullptr;
}

std::string NegotiatedAlpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

}  // namespace xgate::proxy
