// The runner's client: HTTP/1.1 over TCP or TLS (trusting only the run's CA, SNI and
// hostname check as Go's client does them) and UDP datagrams, one connection per request,
// on sockets made by a factory (so they can live in the client network namespace).
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/conformance/case.h"
#include "tools/conformance/certs.h"
#include "tools/echo/http_io.h"

namespace xgate::conformance {

struct Response {
  int status = 0;
  echo::Headers headers;
  std::string body;            // after a WebSocket 101: the echo's JSON line
  std::string websocket_echo;  // X4: the bytes that came back after the JSON line
};

// Makes a socket (domain, type); the network namespace it lives in is the factory's choice.
using SocketFactory = std::function<absl::StatusOr<int>(int domain, int type)>;
absl::StatusOr<int> PlainSocket(int domain, int type);

// Go's crypto/x509 hostname rule: labels compared without case, the same number of them,
// a "*" only as the whole leftmost label, matching any one label.
bool MatchHostname(absl::string_view pattern, absl::string_view host);

// An IPv4 or IPv6 literal (Go's client sends no SNI for those).
bool IsIpAddress(const std::string& host);

// A Host value without its port ("example.com:8080" -> "example.com", "[fd00::1]:80" ->
// "fd00::1"): what goes into SNI and the certificate check.
std::string HostWithoutPort(const std::string& host);

// The bytes of the request `r` sends: Host (the case's host, else the address, with the
// port when it is not the scheme's default), the case's headers exactly as written, and
// X-Echo-Set-Header for backendResponseHeaders.
// X3's X-Echo-Fail carries a key of its own for every request built; X4 adds the upgrade.
std::string BuildHttpRequest(const Request& r, const std::string& address);
// The Host (HTTP/1.1) or :authority (HTTP/2) a request sends.
std::string RequestHost(const Request& r, const std::string& address);

class Client {
 public:
  Client(SocketFactory sockets, const std::string& ca_pem);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request on a connection of its own. `sni` empty: none (Go sends none for IPs).
  // With `websocket` (X4), a 101 is the answer: the echo's JSON line is read as the body,
  // then these bytes are sent and as many read back into websocket_echo.
  // With `client_cert` (X11), the TLS handshake presents that certificate and key.
  absl::StatusOr<Response> Http(const std::string& ip, int port, bool tls, const std::string& sni,
                                absl::string_view request, absl::Duration timeout,
                                const std::optional<std::string>& websocket = std::nullopt,
                                const IssuedCert* client_cert = nullptr);
  // X4 over HTTP/2 (RFC 8441; client_h2.cc): h2c with prior knowledge, or TLS with ALPN h2;
  // the gateway must announce SETTINGS_ENABLE_CONNECT_PROTOCOL; an extended CONNECT with
  // :protocol websocket to `r`'s path, authority (RequestHost) and headers, at `address`. A
  // 200 is the answer: the echo's JSON line is read as the body, then r.websocket is sent and
  // as many bytes read back into websocket_echo.
  absl::StatusOr<Response> WebSocketH2(const std::string& address, const Request& r,
                                       const std::string& sni, absl::Duration timeout);
  // A TCP connection (X6's gRPC client takes it over).
  absl::StatusOr<int> Tcp(const std::string& ip, int port, absl::Duration timeout) {
    return Connect(ip, port, SOCK_STREAM, timeout);
  }
  // One datagram; the answer's payload.
  absl::StatusOr<std::string> Udp(const std::string& ip, int port, absl::string_view payload,
                                  absl::Duration timeout);

 private:
  absl::StatusOr<int> Connect(const std::string& ip, int port, int type, absl::Duration timeout);
  // A TCP connection, with TLS through `tls` when not null (the certificate checked for `sni`,
  // else the address; `client_cert` presented when given).
  absl::StatusOr<std::unique_ptr<echo::Stream>> Open(const std::string& ip, int port, SSL_CTX* tls,
                                                     const std::string& sni, absl::Duration timeout,
                                                     const IssuedCert* client_cert = nullptr);
  SocketFactory sockets_;
  SSL_CTX* tls_ = nullptr;     // ALPN http/1.1
  SSL_CTX* tls_h2_ = nullptr;  // ALPN h2
};

}  // namespace xgate::conformance
