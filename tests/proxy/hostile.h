// Helpers for the hostile-client tests (proxy_limits_test, proxy_h2_abuse_test): a proxy with
// an HTTP and an HTTPS (h2) port in front of one TestUpstream, a raw HTTP/2 client over TLS
// that writes frames by hand, a well-behaved client served throughout, and the RSS.
#pragma once

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy::testing {

// The SNI and :authority the raw HTTP/2 client sends.
inline constexpr const char* kH2Sni = "h2.example";

struct Pem {
  std::string cert;
  std::string key;
};
// What a memory BIO holds.
std::string BioText(BIO* bio);
// A self-signed P-256 certificate with CN `cn` and the SANs `san` ("DNS:a.example").
Pem MakeCertificate(const std::string& cn, const std::string& san);
// A self-signed P-256 CA certificate (CA:TRUE) with CN `cn`.
Pem MakeCa(const std::string& cn);
// A P-256 certificate with CN `cn` and SANs `san` signed by `ca`, for servers and clients.
Pem IssueCertificate(const Pem& ca, const std::string& cn, const std::string& san);

// Makes `ctx` present `pem`'s certificate and key.
void UsePem(SSL_CTX* ctx, const Pem& pem);

// A blocking TLS client connection to 127.0.0.1:port: SNI `sni` ("" for none), only TLS
// `version` when not 0 (old versions allowed: SECLEVEL 0), presenting `client` when given.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& sni, int version = 0, const Pem* client = nullptr);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return handshake_ok_; }
  // Why the handshake, or the first write or read of Get, failed (an alert from the server).
  unsigned long error() const { return error_; }
  int version() const { return SSL_version(ssl_); }
  std::string PeerCommonName() const;
  // Sends a GET and reads the response head and a Content-Length body.
  std::string Request(const std::string& host, const std::string& path);
  // Writes `bytes` in TLS records of at most `record` bytes each.
  void Send(std::string_view bytes, size_t record = 16384);
  // Reads a response head and its Content-Length body ("" after 10 s without bytes).
  std::string ReadResponse();
  // GET / with Connection: close, read until the server closes; "" when no response came
  // (error() says why). With TLS 1.3 a server refuses a client certificate after the client
  // has finished its handshake, so such a refusal shows here, as an alert on the first read.
  std::string Get(const std::string& host);

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
  unsigned long error_ = 0;
};

// A TCP socket connected to 127.0.0.1:port, with 5 s send and receive timeouts (-1 on error).
int ConnectLoopback(uint16_t port);

// This process's resident set, in bytes.
size_t RssBytes();
// Its peak since the last ResetPeakRss (Linux 4.0+: /proc/self/clear_refs), in bytes.
size_t PeakRssBytes();
void ResetPeakRss();

struct H2Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
  uint32_t Code() const;  // GOAWAY / RST_STREAM error code
};

// An HTTP/2 client over TLS (ALPN h2) that sends what the test writes, frame by frame.
class H2RawClient {
 public:
  // Connects, handshakes, sends the preface with `settings` (id, value) and acknowledges the
  // server's SETTINGS.
  H2RawClient(uint16_t port, std::vector<std::pair<uint16_t, uint32_t>> settings = {});
  ~H2RawClient();
  bool ok() const { return ok_; }
  // The server ended the connection (EOF, close_notify or reset), as opposed to a read timeout.
  bool closed() const { return closed_; }

  static std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload);
  // An HPACK integer with an N-bit prefix whose high bits are `first`.
  static std::string HpackInt(uint8_t first, int prefix_bits, uint64_t value);
  // A literal field without indexing.
  static std::string Literal(std::string_view name, std::string_view value);
  // The pseudo-headers of a request (literals).
  static std::string RequestBlock(const std::string& method, const std::string& path);

  // False once the connection is closed or the write failed.
  bool Send(const std::string& bytes);
  // Reads the next frame (nullopt on EOF, error or timeout).
  std::optional<H2Frame> Read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until a GOAWAY (its code) or EOF (nullopt).
  std::optional<uint32_t> WaitGoaway(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  bool closed_ = false;
  std::string in_;
};

// GETs on the HTTP port in a loop on one keep-alive connection, from its own thread, until
// stopped; counts failures and keeps the latencies.
class WellBehavedClient {
 public:
  explicit WellBehavedClient(uint16_t port);
  ~WellBehavedClient();
  // Waits (bounded) until `n` requests were served.
  bool WaitServed(int n);
  void ForgetFailures() { failed_ = 0; }
  // Stops (after one more request served) and prints "well-behaved client: N requests, F failed,
  // max latency X ms".
  void Stop();
  int served() const { return served_; }
  int failed() const { return failed_; }

 private:
  std::atomic<bool> stopping_{false};
  std::atomic<int> served_{0};
  std::atomic<int> failed_{0};
  std::atomic<int64_t> max_us_{0};
  std::atomic<int64_t> total_us_{0};
  std::thread thread_;
};

// Generation 1: 127.0.0.1 `http_port` (HTTP) and `https_port` (HTTPS, h2 by ALPN, a
// self-signed certificate for kH2Sni), every path routed to `upstream`.
api::L7Config HttpAndHttpsConfig(uint16_t http_port, uint16_t https_port, TestUpstream& upstream);

// One worker (so the attacker and the well-behaved client share it), an HTTP port and an
// HTTPS port (h2 by ALPN) routing everything to one upstream.
class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Starts the proxy with `options` (workers 1 unless set) and applies the config.
  void StartProxy(ServerOptions options = {});
  // Starts the well-behaved client, which must be served until the end of the test.
  void StartWellBehaved();
  api::ProxyStats Stats() const { return server_->Stats(); }
  uint64_t AbuseCount(const std::string& kind) const;
  // Asserts the RSS grew by less than `bound` since StartProxy.
  void ExpectRssGrowthBelow(size_t bound) const;

  std::unique_ptr<TestUpstream> upstream_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<WellBehavedClient> good_;
  uint16_t http_port_ = 0;
  uint16_t https_port_ = 0;
  size_t rss_at_start_ = 0;
};

}  // namespace xgate::proxy::testing
