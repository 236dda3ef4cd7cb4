// X11: the runner's client presents a runner-made certificate (signed by an extra CA) to a
// server that asks for one, and a server that requires one refuses the client without it or
// with one of another CA (what `expect.tlsFailure` sees).
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"
#include "tools/conformance/certs.h"
#include "tools/conformance/client.h"

namespace xgate::conformance {
namespace {

// Serves `connections` TLS connections one after another on a loopback port: each must
// present a certificate of `client_ca`; the answer's body is the client certificate's CN.
class MtlsServer {
 public:
  MtlsServer(const IssuedCert& server, const std::string& client_ca, int connections) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    BIO* cert = BIO_new_mem_buf(server.chain_pem.data(), static_cast<int>(server.chain_pem.size()));
    BIO* key = BIO_new_mem_buf(server.key_pem.data(), static_cast<int>(server.key_pem.size()));
    X509* x = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr);
    EVP_PKEY* k = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx_, x);
    SSL_CTX_use_PrivateKey(ctx_, k);
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cert);
    BIO_free(key);
    BIO* ca = BIO_new_mem_buf(client_ca.data(), static_cast<int>(client_ca.size()));
    X509* ca_cert = PEM_read_bio_X509(ca, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca_cert);
    X509_free(ca_cert);
    BIO_free(ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);

    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_, 8);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) ServeOne();
    });
  }
  ~MtlsServer() {
    thread_.join();
    close(listener_);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }

 private:
  void ServeOne() {
    int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, n);
      }
      X509* peer = SSL_get1_peer_certificate(ssl);
      char cn[256] = "";
      if (peer != nullptr) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      }
      X509_free(peer);
      std::string body = cn;
      std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body;
      SSL_write(ssl, response.data(), static_cast<int>(response.size()));
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }

  SSL_CTX* ctx_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(ConformanceClientCertificate, PresentedWhenAskedAndRefusedOtherwise) {
  absl::StatusOr<CertAuthority> run_ca = CertAuthority::Create("run CA");
  absl::StatusOr<CertAuthority> client_ca = CertAuthority::Create("client CA");
  ASSERT_TRUE(run_ca.ok() && client_ca.ok());
  absl::StatusOr<IssuedCert> server = run_ca->Issue({"example.org"});
  absl::StatusOr<IssuedCert> client = client_ca->Issue({"client.example.org"});
  absl::StatusOr<IssuedCert> stranger = run_ca->Issue({"stranger.example.org"});
  ASSERT_TRUE(server.ok() && client.ok() && stranger.ok());

  MtlsServer mtls(*server, client_ca->ca_pem(), 3);
  Client c(PlainSocket, run_ca->ca_pem());
  std::string request = "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
  absl::StatusOr<Response> ok = c.Http("127.0.0.1", mtls.port(), true, "example.org", request,
                                       absl::Seconds(5), std::nullopt, &*client);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "client.example.org");  // the CN is the first host
  EXPECT_FALSE(
      c.Http("127.0.0.1", mtls.port(), true, "example.org", request, absl::Seconds(5)).ok())
      << "no certificate";
  EXPECT_FALSE(c.Http("127.0.0.1", mtls.port(), true, "example.org", request, absl::Seconds(5),
                      std::nullopt, &*stranger)
                   .ok())
      << "a certificate of another CA";
}

}  // namespace
}  // namespace xgate::conformance
