// TLS termination contexts: one SSL_CTX per certificate (and client certificate policy), and
// per HTTPS port a front context whose SNI callback picks the context of the best listener
// (exact hostname, then wildcard, then the listener without hostname), its client
// certificate verification included. TLS 1.2 minimum, ALPN h2 / http/1.1.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::proxy {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Client certificate validation (a Gateway's spec.tls.frontend): the client must present a
// certificate that chains to one of `ca_pem`'s, or, with `allow_insecure_fallback`, is asked
// for one but let in without it (or with one that does not verify).
struct ClientCertificatePolicy {
  std::string ca_pem;
  bool allow_insecure_fallback = false;
};

// Loads a PEM certificate chain (leaf first) and its PEM private key into `ctx`, as a server
// presents them or a client to a server that asks. The errors name tls.crt / tls.key and
// never carry the key.
absl::Status UseCertificateAndKey(SSL_CTX* ctx, const std::string& cert_pem,
                                  const std::string& key_pem);

// A server context for one certificate chain + key in PEM, asking for client certificates
// when `clients` is given.
absl::StatusOr<std::shared_ptr<SSL_CTX>> MakeCertificateContext(
    const std::string& cert_pem, const std::string& key_pem, bool offer_h2,
    const ClientCertificatePolicy* clients = nullptr);

// SNI selection for one port.
class PortTls {
 public:
  struct Candidate {
    std::string hostname;  // listener hostname: exact, "*.suffix", or "" for any
    std::shared_ptr<SSL_CTX> context;
  };
  static absl::StatusOr<std::unique_ptr<PortTls>> Create(std::vector<Candidate> candidates,
                                                         bool offer_h2);
  PortTls(const PortTls&) = delete;
  PortTls& operator=(const PortTls&) = delete;

  // The context a new connection starts with; its servername callback switches to the
  // chosen certificate's context.
  SSL_CTX* front() const { return front_.get(); }
  // nullptr when no listener accepts `sni` ("" = the client sent none).
  SSL_CTX* Select(const std::string& sni) const;
  // This port's selection is exactly `candidates` (same hostnames, same contexts), so a new
  // config may keep it.
  bool Serves(std::vector<Candidate> candidates, bool offer_h2) const;

 private:
  PortTls() = default;
  // Exact names, then wildcards (longest first), then the catch-all.
  static void Rank(std::vector<Candidate>& candidates);
  SslCtxPtr front_;
  bool offer_h2_ = false;
  std::vector<Candidate> candidates_;  // most specific first
};

// The ALPN protocol the handshake chose ("" when none).
std::string NegotiatedAlpn(const SSL* ssl);

// The last OpenSSL errors as text (clears the queue).
std::string OpenSslErrors();

}  // namespace xgate::proxy
