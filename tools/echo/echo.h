// The conformance echo backend: answers every HTTP request 200 with a JSON description of
// what it received (FORMAT.md, "The echo backend" and E4), every UDP datagram with its
// namespace and pod, optionally over TLS, and logs each request it saw as a JSON line.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/echo/echo_grpc.h"
#include "tools/echo/http_io.h"

namespace xgate::echo {

struct EchoConfig {
  std::vector<std::string> listen;  // ADDR:PORT, TCP
  std::vector<std::string> h2c;     // ADDR:PORT, TCP speaking HTTP/2 with prior knowledge
  std::vector<std::string> udp;     // ADDR:PORT
  std::vector<std::string> grpc;    // ADDR:PORT, the GrpcEcho service (TLS with tls_cert)
  std::string tls_cert;             // PEM chain file; with tls_key, every TCP port speaks TLS
  std::string tls_key;
  // PEM CA certificates: over TLS, every client must present a certificate that chains to one
  // of them (the handshake fails otherwise).
  std::string tls_client_ca;
  std::string ns;
  std::string pod;
  std::string log_path;    // one JSON line per request received
  std::string ready_file;  // written once every socket is bound
};

// The JSON body for a request: path, host, method, proto, headers (canonical names, values
// in the order received; Host is reported as `host`, as Go does), namespace, pod; over TLS
// also `tls` as the upstream echo reports it (TlsJson).
nlohmann::json EchoJson(const Message& req, absl::string_view ns, absl::string_view pod,
                        const SSL* ssl = nullptr);

// The upstream echo's `tls` object for a connection: version, serverName (the SNI the client
// sent, "" without), negotiatedProtocol (ALPN), cipherSuite; when the client presented a
// certificate, peerCertificates (PEM, leaf first, as upstream's echo) and
// peerCertificateSubject (the leaf's subject, RFC 2253).
nlohmann::json TlsJson(const SSL* ssl);

// A certificate's subject as RFC 2253 text ("CN=client.example,O=xgate").
std::string SubjectText(X509* cert);

// Response headers asked for with X-Echo-Set-Header ("Name:Value,Name2:Value2"): the
// name's case kept, a name given twice gets one header with the values joined by ",".
Headers ParseEchoSetHeader(absl::string_view value);

// The value of query parameter `key` in a request target, if present.
std::optional<std::string> QueryParam(absl::string_view target, absl::string_view key);

// How long to wait before answering: the `delay` query parameter (Go duration syntax).
absl::StatusOr<absl::Duration> RequestDelay(absl::string_view target);

// The whole HTTP/1.1 response for a request (status line, headers, body).
std::string EchoResponse(const Message& req, absl::string_view ns, absl::string_view pod,
                         bool keep_alive, const SSL* ssl = nullptr);

// X-Echo-Fail ("N:STATUS:KEY", tests/conformance/FORMAT.md X3): the first N requests that
// carry KEY are answered STATUS.
struct FailRequest {
  int count = 0;
  int status = 0;
  std::string key;
};
std::optional<FailRequest> ParseEchoFail(absl::string_view value);

// The Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string WebSocketAccept(absl::string_view key);

// Whether the request asks for a WebSocket upgrade (Connection: upgrade, Upgrade: websocket).
bool IsWebSocketUpgrade(const Message& req);

// Parses "ADDR:PORT" ("[v6]:PORT" too) into a socket address.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view addr);

class EchoServer {
 public:
  explicit EchoServer(EchoConfig config) : config_(std::move(config)) {}
  ~EchoServer();
  // Binds every socket (then writes ready_file); the caller then calls Serve().
  absl::Status Start();
  // Accepts and answers until the process ends.
  void Serve();
  // The TCP ports actually bound, in the order of config.listen (useful with port 0).
  const std::vector<int>& tcp_ports() const { return tcp_ports_; }
  // The h2c ports actually bound, in the order of config.h2c.
  const std::vector<int>& h2c_ports() const { return h2c_ports_; }
  // The gRPC ports actually bound, in the order of config.grpc.
  std::vector<int> grpc_ports() const { return grpc_ ? grpc_->ports() : std::vector<int>(); }

  // For a request with X-Echo-Fail: which time this pod sees its key (from 1).
  int CountAttempt(const std::string& key);
  void Log(const Message& req);

 private:
  void AcceptLoop(int lfd, bool h2c);
  void UdpLoop(int fd);
  void HandleConnection(int fd);
  void HandleH2cConnection(int fd);  // echo_h2c.cc
  // After a 101: the request's JSON and a newline, then every byte received back.
  void ServeWebSocket(Stream& s, const Message& req);
  EchoConfig config_;
  SSL_CTX* tls_ = nullptr;
  std::vector<int> tcp_fds_;
  std::vector<int> udp_fds_;
  std::vector<int> tcp_ports_;
  std::vector<int> h2c_fds_;
  std::vector<int> h2c_ports_;
  std::unique_ptr<GrpcEcho> grpc_;
  int log_fd_ = -1;
  std::mutex log_mu_;
  std::mutex attempts_mu_;
  std::map<std::string, int> attempts_;  // X-Echo-Fail key -> requests seen
};

}  // namespace xgate::echo
