#include "userspace-proxy/server/upstream_tls.h"

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "absl/strings/escaping.h"
#include "userspace-proxy/server/tls.h"

namespace xgate::proxy {
namespace {

// The index of the UpstreamTls in its SSL_CTX's ex data.
int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool HasUriSan(X509* cert, const std::vector<std::string>& uris) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
    for (const auto& want : uris) found = found || want == value;
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace

std::string UpstreamTls::KeyOf(const api::UpstreamTls& proto, const api::Certificate* client) {
  std::string material = proto.SerializeAsString();
  if (client != nullptr) {
    material.push_back('\0');
    material += client->cert_pem();
    material.push_back('\0');
    material += client->key_pem();
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  OPENSSL_cleanse(material.data(), material.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest) / 2));
}

absl::StatusOr<std::shared_ptr<const UpstreamTls>> UpstreamTls::Create(
    const api::UpstreamTls& proto, const api::Certificate* client) {
  std::shared_ptr<UpstreamTls> tls(new UpstreamTls());
  tls->ctx_.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX* ctx = tls->ctx_.get();
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_ex_data(ctx, ContextIndex(), tls.get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &UpstreamTls::VerifyCallback);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &UpstreamTls::NewSessionCallback);
  if (proto.system_cas()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
      return absl::FailedPreconditionError("the system CA store cannot be loaded");
    }
  } else {
    const std::string& pem = proto.ca_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) ++added;
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();  // the end of the PEM reads as an error
    if (added == 0) return absl::InvalidArgumentError("the CA bundle holds no PEM certificate");
  }
  if (client != nullptr) {
    if (absl::Status s = UseCertificateAndKey(ctx, client->cert_pem(), client->key_pem());
        !s.ok()) {
      ERR_clear_error();
      return absl::InvalidArgumentError("client certificate " + client->name() + ": " +
                                        std::string(s.message()));
    }
  }
  tls->sni_ = proto.sni();
  tls->hostnames_ = {proto.verify_hostnames().begin(), proto.verify_hostnames().end()};
  tls->uris_ = {proto.verify_uris().begin(), proto.verify_uris().end()};
  if (tls->hostnames_.empty() && tls->uris_.empty()) tls->hostnames_.push_back(proto.sni());
  tls->key_ = KeyOf(proto, client);
  return std::shared_ptr<const UpstreamTls>(std::move(tls));
}

SSL* UpstreamTls::NewSsl(int fd, SSL_SESSION* session, TlsSessionOwner* owner, bool h2) const {
  SSL* ssl = SSL_new(ctx_.get());
  if (ssl == nullptr) return nullptr;
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  if (!sni_.empty()) SSL_set_tlsext_host_name(ssl, sni_.c_str());
  static const unsigned char kHttp1[] = "\x08http/1.1";
  static const unsigned char kH2[] = "\x02h2";
  if (h2) {
    SSL_set_alpn_protos(ssl, kH2, sizeof(kH2) - 1);
  } else {
    SSL_set_alpn_protos(ssl, kHttp1, sizeof(kHttp1) - 1);
  }
  if (session != nullptr) SSL_set_session(ssl, session);
  SSL_set_app_data(ssl, owner);
  return ssl;
}

bool UpstreamTls::NamesMatch(X509* leaf) const {
  for (const auto& host : hostnames_) {
    if (X509_check_host(leaf, host.data(), host.size(), 0, nullptr) == 1) return true;
  }
  return !uris_.empty() && HasUriSan(leaf, uris_);
}

int UpstreamTls::VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* self =
      static_cast<const UpstreamTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
  if (self == nullptr || self->NamesMatch(X509_STORE_CTX_get_current_cert(store))) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return 0;
}

int UpstreamTls::NewSessionCallback(SSL* ssl, SSL_SESSION* session) {
  auto* owner = static_cast<TlsSessionOwner*>(SSL_get_app_data(ssl));
  if (owner == nullptr) return 0;  // OpenSSL frees it
  owner->KeepSession(session);
  return 1;
}

std::string UpstreamTls::AlpnRefusal(const SSL* ssl) {
  const unsigned char* chosen = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &chosen, &length);
  std::string_view protocol(reinterpret_cast<const char*>(chosen), chosen ? length : 0);
  if (protocol == "h2") return "";
  return protocol.empty() ? "backend chose no protocol in ALPN (h2 offered): no HTTP/2 over TLS"
                          : "backend chose " + std::string(protocol) +
                                " in ALPN (h2 offered): no HTTP/2 over TLS";
}

std::string UpstreamTls::FailureReason(const SSL* ssl) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  unsigned long error = ERR_peek_last_error();
  if (error == 0) return "handshake failed";
  char text[256];
  ERR_error_string_n(error, text, sizeof(text));
  return text;
}

}  // namespace xgate::proxy
