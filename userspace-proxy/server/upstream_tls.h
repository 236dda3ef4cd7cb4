// TLS from the proxy to a cluster's endpoints (BackendTLSPolicy): one client SSL_CTX per
// cluster settings, verification always on (the policy's CAs or the system store), SNI the
// policy's hostname, and the backend certificate's names checked against the hostname or the
// policy's subjectAltNames (DNS names and URIs); with the Gateway's client certificate
// (spec.tls.backend.clientCertificateRef) presented to a backend that asks for one.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/config.pb.h"

namespace xgate::proxy {

// Who keeps the sessions of a TLS connection for resumption (set as the SSL's app data by
// NewSsl): each new session (TLS 1.3 tickets arrive after the handshake) is handed over.
class TlsSessionOwner {
 public:
  virtual ~TlsSessionOwner() = default;
  virtual void KeepSession(SSL_SESSION* session) = 0;  // takes the reference
};

class UpstreamTls {
 public:
  // Fails on CA PEM that holds no certificate, a system store OpenSSL cannot load, or a
  // client certificate whose chain or key does not load or whose key does not match
  // (`client`: the certificate proto.client_certificate names, null for none).
  static absl::StatusOr<std::shared_ptr<const UpstreamTls>> Create(
      const api::UpstreamTls& proto, const api::Certificate* client = nullptr);

  // A client SSL over `fd` with SNI, ALPN http/1.1 (h2 alone with `h2`), the name checks and
  // `session` (may be null) to resume. The caller owns it.
  SSL* NewSsl(int fd, SSL_SESSION* session, TlsSessionOwner* owner, bool h2 = false) const;
  // Why `ssl`, handshaken with ALPN h2, may not carry HTTP/2: "" when the peer chose h2.
  static std::string AlpnRefusal(const SSL* ssl);
  // What makes two clusters' connections to one endpoint interchangeable: the same key.
  const std::string& key() const { return key_; }
  // Why the handshake of `ssl` failed, for logs ("certificate verify failed: ...").
  static std::string FailureReason(const SSL* ssl);
  // The digest that names settings in key() (the client certificate's chain and key
  // included), computed without building a context.
  static std::string KeyOf(const api::UpstreamTls& proto, const api::Certificate* client = nullptr);

 private:
  UpstreamTls() = default;
  static int VerifyCallback(int preverify_ok, X509_STORE_CTX* store);
  static int NewSessionCallback(SSL* ssl, SSL_SESSION* session);
  bool NamesMatch(X509* leaf) const;

  std::shared_ptr<SSL_CTX> ctx_;
  std::string sni_;
  std::vector<std::string> hostnames_;  // the certificate must match one of these...
  std::vector<std::string> uris_;       // ...or carry one of these URI SANs
  std::string key_;
};

}  // namespace xgate::proxy
