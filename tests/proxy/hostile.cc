#include "tests/proxy/hostile.h"

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string_view>

#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/net.h"

namespace xgate::proxy::testing {

using namespace std::chrono_literals;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(length));
}

namespace {

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A P-256 certificate with CN `cn`, signed by `issuer` (self-signed when null). `san` empty:
// none. A CA gets CA:TRUE, a leaf serverAuth and clientAuth.
Pem MakeSigned(const std::string& cn, const std::string& san, const Pem* issuer, bool ca) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert),
                   static_cast<long>(std::hash<std::string>()(cn) & 0xffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = cert;
  EVP_PKEY* issuer_key = key;
  if (issuer != nullptr) {
    BIO* cert_in = BIO_new_mem_buf(issuer->cert.data(), static_cast<int>(issuer->cert.size()));
    BIO* key_in = BIO_new_mem_buf(issuer->key.data(), static_cast<int>(issuer->key.size()));
    issuer_cert = PEM_read_bio_X509(cert_in, nullptr, nullptr, nullptr);
    issuer_key = PEM_read_bio_PrivateKey(key_in, nullptr, nullptr, nullptr);
    BIO_free(cert_in);
    BIO_free(key_in);
  }
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  if (!san.empty()) AddExtension(cert, issuer_cert, NID_subject_alt_name, san);
  if (ca) {
    AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else if (issuer != nullptr) {
    AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  X509_sign(cert, issuer_key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  Pem pem{BioText(cert_bio), BioText(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  if (issuer != nullptr) {
    X509_free(issuer_cert);
    EVP_PKEY_free(issuer_key);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

}  // namespace

Pem MakeCertificate(const std::string& cn, const std::string& san) {
  return MakeSigned(cn, san, nullptr, false);
}

Pem MakeCa(const std::string& cn) { return MakeSigned(cn, "", nullptr, true); }

Pem IssueCertificate(const Pem& ca, const std::string& cn, const std::string& san) {
  return MakeSigned(cn, san, &ca, false);
}

int ConnectLoopback(uint16_t port) {
  auto address = MakeAddress("127.0.0.1", port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, address->get(), address->length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

namespace {

// A "Name:   N kB" field of /proc/self/status, in bytes.
size_t StatusBytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoul(line.substr(field.size())) * 1024;
  }
  return 0;
}

}  // namespace

size_t RssBytes() { return StatusBytes("VmRSS:"); }
size_t PeakRssBytes() { return StatusBytes("VmHWM:"); }
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

uint32_t H2Frame::Code() const {
  size_t at = type == NGHTTP2_GOAWAY ? 4 : 0;
  if (payload.size() < at + 4) return 0xffffffff;
  uint32_t code = 0;
  for (size_t i = 0; i < 4; ++i) code = code << 8 | static_cast<uint8_t>(payload[at + i]);
  return code;
}

// --- H2RawClient ----------------------------------------------------------------------

H2RawClient::H2RawClient(uint16_t port, std::vector<std::pair<uint16_t, uint32_t>> settings) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn));
  fd_ = ConnectLoopback(port);
  if (fd_ < 0) return;
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, kH2Sni);
  if (SSL_connect(ssl_) != 1) return;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != "h2") return;
  std::string payload;
  for (auto [id, value] : settings) {
    for (int shift : {8, 0}) payload += static_cast<char>((id >> shift) & 0xff);
    for (int shift : {24, 16, 8, 0}) payload += static_cast<char>((value >> shift) & 0xff);
  }
  if (!Send(NGHTTP2_CLIENT_MAGIC + Frame(NGHTTP2_SETTINGS, 0, 0, payload))) return;
  for (;;) {
    std::optional<H2Frame> frame = Read();
    if (!frame) return;
    if (frame->type == NGHTTP2_SETTINGS && !(frame->flags & NGHTTP2_FLAG_ACK)) break;
  }
  ok_ = Send(Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, ""));
}

H2RawClient::~H2RawClient() {
  if (ssl_) SSL_free(ssl_);
  SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

std::string H2RawClient::Frame(uint8_t type, uint8_t flags, uint32_t stream,
                               std::string_view payload) {
  std::string frame;
  for (int shift : {16, 8, 0}) frame += static_cast<char>((payload.size() >> shift) & 0xff);
  frame += static_cast<char>(type);
  frame += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) frame += static_cast<char>((stream >> shift) & 0xff);
  frame += payload;
  return frame;
}

std::string H2RawClient::HpackInt(uint8_t first, int prefix_bits, uint64_t value) {
  uint64_t max = (uint64_t{1} << prefix_bits) - 1;
  std::string out;
  if (value < max) {
    out += static_cast<char>(first | value);
    return out;
  }
  out += static_cast<char>(first | max);
  value -= max;
  while (value >= 128) {
    out += static_cast<char>(0x80 | (value & 0x7f));
    value >>= 7;
  }
  out += static_cast<char>(value);
  return out;
}

std::string H2RawClient::Literal(std::string_view name, std::string_view value) {
  return HpackInt(0x00, 4, 0) + HpackInt(0x00, 7, name.size()) + std::string(name) +
         HpackInt(0x00, 7, value.size()) + std::string(value);
}

std::string H2RawClient::RequestBlock(const std::string& method, const std::string& path) {
  return Literal(":method", method) + Literal(":scheme", "https") + Literal(":path", path) +
         Literal(":authority", kH2Sni);
}

bool H2RawClient::Send(const std::string& bytes) {
  if (ssl_ == nullptr) return false;
  size_t sent = 0;
  while (sent < bytes.size()) {
    int n = SSL_write(ssl_, bytes.data() + sent, static_cast<int>(bytes.size() - sent));
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool H2RawClient::Fill(std::chrono::steady_clock::time_point deadline) {
  char buffer[16384];
  for (;;) {
    if (SSL_pending(ssl_) == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    }
    int n = SSL_read(ssl_, buffer, sizeof(buffer));
    if (n > 0) {
      in_.append(buffer, static_cast<size_t>(n));
      return true;
    }
    int error = SSL_get_error(ssl_, n);
    if (error != SSL_ERROR_WANT_READ) {  // EOF, reset, close_notify
      closed_ = true;
      return false;
    }
  }
}

std::optional<H2Frame> H2RawClient::Read(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (in_.size() >= 9) {
      size_t length = static_cast<uint8_t>(in_[0]) << 16 | static_cast<uint8_t>(in_[1]) << 8 |
                      static_cast<uint8_t>(in_[2]);
      if (in_.size() >= 9 + length) {
        H2Frame frame;
        frame.type = static_cast<uint8_t>(in_[3]);
        frame.flags = static_cast<uint8_t>(in_[4]);
        for (int i = 5; i < 9; ++i) frame.stream = frame.stream << 8 | static_cast<uint8_t>(in_[i]);
        frame.stream &= 0x7fffffff;
        frame.payload = in_.substr(9, length);
        in_.erase(0, 9 + length);
        return frame;
      }
    }
    if (ssl_ == nullptr || !Fill(deadline)) return std::nullopt;
  }
}

std::optional<uint32_t> H2RawClient::WaitGoaway(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    std::optional<H2Frame> frame = Read(std::max(left, 1ms));
    if (!frame) return std::nullopt;
    if (frame->type == NGHTTP2_GOAWAY) return frame->Code();
  }
}

// --- WellBehavedClient ----------------------------------------------------------------

WellBehavedClient::WellBehavedClient(uint16_t port) {
  thread_ = std::thread([this, port] {
    // One keep-alive connection, as a browser would hold; a new one only after the proxy
    // closed it (an answer with Connection: close).
    std::unique_ptr<Client> client;
    while (!stopping_) {
      auto start = std::chrono::steady_clock::now();
      bool fresh = !client;
      if (!client) client = std::make_unique<Client>("127.0.0.1", port);
      client->Send("GET /good HTTP/1.1\r\nHost: good.example\r\n\r\n");
      Response response = client->Read();
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
      if (response.status == 200) {
        ++served_;
        total_us_ += us;
        if (us > max_us_) max_us_ = us;
      } else {
        ++failed_;
        printf("well-behaved client: status %d after %.1f ms%s\n", response.status, us / 1000.0,
               fresh ? " (new connection)" : "");
      }
      if (response.status != 200 || response.closed) client.reset();
      std::this_thread::sleep_for(5ms);  // a steady trickle, not a load test
    }
  });
}

WellBehavedClient::~WellBehavedClient() { Stop(); }

bool WellBehavedClient::WaitServed(int n) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (served_ < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void WellBehavedClient::Stop() {
  if (!thread_.joinable()) return;
  WaitServed(served_ + 1);  // served after the attack too
  stopping_ = true;
  thread_.join();
  int served = served_;
  printf("well-behaved client: %d requests, %d failed, mean latency %.2f ms, max %.2f ms\n", served,
         failed_.load(), served ? total_us_ / 1000.0 / served : 0.0, max_us_ / 1000.0);
}

// --- HostileTest ----------------------------------------------------------------------

void HostileTest::SetUp() {
  signal(SIGPIPE, SIG_IGN);  // the proxy closes on attackers mid-write
  AccessLog::Disable();
  upstream_ = std::make_unique<TestUpstream>("up");
  http_port_ = FreePort();
  https_port_ = FreePort();
}

void HostileTest::TearDown() {
  if (good_) {
    good_->Stop();
    EXPECT_EQ(good_->failed(), 0) << "the well-behaved client was not served throughout";
    EXPECT_GT(good_->served(), 0);
  }
  server_.reset();
  upstream_->Stop();
}

api::L7Config HttpAndHttpsConfig(uint16_t http_port, uint16_t https_port, TestUpstream& upstream) {
  static const Pem pem = MakeCertificate("h2", std::string("DNS:") + kH2Sni);
  api::L7Config config;
  config.set_generation(1);
  AddRoute(*AddVirtualHost(*AddHttpPort(config, http_port, {"127.0.0.1"}), ""), "r", "/",
           "ns/up:80");
  api::Port* https = config.add_ports();
  https->set_port(https_port);
  https->set_protocol(api::Port::HTTPS);
  https->add_addresses("127.0.0.1");
  AddRoute(*AddVirtualHost(*https, ""), "r", "/", "ns/up:80");
  https->mutable_listeners(0)->add_certificates("ns/cert");
  api::Certificate* certificate = config.add_certificates();
  certificate->set_name("ns/cert");
  certificate->set_cert_pem(pem.cert);
  certificate->set_key_pem(pem.key);
  AddCluster(config, "ns/up:80", upstream);
  return config;
}

void HostileTest::StartProxy(ServerOptions options) {
  if (options.workers == 0) options.workers = 1;
  server_ = std::make_unique<Server>(options);
  server_->Start();
  ASSERT_TRUE(server_->Apply(HttpAndHttpsConfig(http_port_, https_port_, *upstream_)).ok());
  ASSERT_TRUE(server_->WaitApplied(1, 5s));
  rss_at_start_ = RssBytes();
}

// Returns once the client has been served: its keep-alive connection is then open and counted
// (its thread could otherwise connect after a test's attackers and be refused with them).
void HostileTest::StartWellBehaved() {
  good_ = std::make_unique<WellBehavedClient>(http_port_);
  ASSERT_TRUE(good_->WaitServed(1)) << "the well-behaved client was never served";
}

uint64_t HostileTest::AbuseCount(const std::string& kind) const {
  api::ProxyStats stats = server_->Stats();
  for (const auto& a : stats.h2_abuse()) {
    if (a.kind() == kind) return a.count();
  }
  return 0;
}

void HostileTest::ExpectRssGrowthBelow(size_t bound) const {
  size_t now = RssBytes();
  size_t growth = now > rss_at_start_ ? now - rss_at_start_ : 0;
  printf("RSS growth during the attack: %.1f MiB (bound %.1f MiB)\n", growth / 1048576.0,
         bound / 1048576.0);
  EXPECT_LT(growth, bound);
}

void UsePem(SSL_CTX* ctx, const Pem& pem) {
  BIO* cert = BIO_new_mem_buf(pem.cert.data(), static_cast<int>(pem.cert.size()));
  BIO* key = BIO_new_mem_buf(pem.key.data(), static_cast<int>(pem.key.size()));
  X509* x = PEM_read_bio_X509(cert, nullptr, nullptr, nullptr);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
  SSL_CTX_use_certificate(ctx, x);
  SSL_CTX_use_PrivateKey(ctx, k);
  X509_free(x);
  EVP_PKEY_free(k);
  BIO_free(cert);
  BIO_free(key);
}

TlsClient::TlsClient(uint16_t port, const std::string& sni, int version, const Pem* client) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (version) {
    SSL_CTX_set_min_proto_version(ctx_, version);
    SSL_CTX_set_max_proto_version(ctx_, version);
    SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
  }
  if (client != nullptr) UsePem(ctx_, *client);
  fd_ = ConnectLoopback(port);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
  ERR_clear_error();
  handshake_ok_ = SSL_connect(ssl_) == 1;
  if (!handshake_ok_) error_ = ERR_peek_last_error();
}

TlsClient::~TlsClient() {
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
  close(fd_);
}

std::string TlsClient::PeerCommonName() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return "";
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  return cn;
}

std::string TlsClient::Request(const std::string& host, const std::string& path) {
  Send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  return ReadResponse();
}

void TlsClient::Send(std::string_view bytes, size_t record) {
  for (size_t at = 0; at < bytes.size(); at += record) {
    size_t n = std::min(record, bytes.size() - at);
    ASSERT_EQ(SSL_write(ssl_, bytes.data() + at, static_cast<int>(n)), static_cast<int>(n));
  }
}

std::string TlsClient::ReadResponse() {
  timeval timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  char buffer[4096];
  while (true) {
    size_t head_end = response.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t cl = response.find("Content-Length: ");
      if (cl != std::string::npos &&
          response.size() >= head_end + 4 + std::stoul(response.substr(cl + 16))) {
        return response;
      }
    }
    int n = SSL_read(ssl_, buffer, sizeof(buffer));
    if (n <= 0) return response;
    response.append(buffer, static_cast<size_t>(n));
  }
}

std::string TlsClient::Get(const std::string& host) {
  if (!handshake_ok_) return "";
  std::string request = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
    error_ = ERR_peek_last_error();
    return "";
  }
  timeval timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  char buffer[4096];
  while (true) {
    int n = SSL_read(ssl_, buffer, sizeof(buffer));
    if (n <= 0) {
      if (response.empty()) error_ = ERR_peek_last_error();
      return response;
    }
    response.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace xgate::proxy::testing
