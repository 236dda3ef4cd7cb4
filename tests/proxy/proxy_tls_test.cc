// TLS termination (SNI certificate choice, TLS 1.2 minimum, certificate swap) and TLS
// passthrough by SNI, end to end on loopback with certificates made in the test.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <list>
#include <map>
#include <thread>

#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/net.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;
using testing::AddCluster;
using testing::AddRoute;
using testing::AddVirtualHost;
using testing::BioText;
using testing::MakeCertificate;
using testing::Pem;
using testing::TestUpstream;
using testing::TlsClient;

class ProxyTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    port_ = testing::FreePort();
    ServerOptions options;
    options.workers = 2;
    server_ = std::make_unique<Server>(options);
    server_->Start();
  }
  void Apply(api::L7Config config) {
    config.set_generation(++generation_);
    ASSERT_TRUE(server_->Apply(config).ok());
    ASSERT_TRUE(server_->WaitApplied(generation_, 5s));
  }
  // HTTPS port: a.example (cert a), *.wild.example (cert wild), catch-all (cert default).
  api::L7Config HttpsConfig(TestUpstream& up, const Pem& a) {
    api::L7Config config;
    api::Port* port = config.add_ports();
    port->set_port(port_);
    port->set_protocol(api::Port::HTTPS);
    port->add_addresses("127.0.0.1");
    for (auto [listener_host, cert] :
         {std::pair{"a.example", "ns/a"}, std::pair{"*.wild.example", "ns/wild"},
          std::pair{"", "ns/default"}}) {
      AddRoute(*AddVirtualHost(*port, listener_host, listener_host), "r", "/", "ns/up:443");
      port->mutable_listeners(port->listeners_size() - 1)->add_certificates(cert);
    }
    for (auto& [name, pem] :
         {std::pair{"ns/a", a}, std::pair{"ns/wild", wild_}, std::pair{"ns/default", default_}}) {
      api::Certificate* certificate = config.add_certificates();
      certificate->set_name(name);
      certificate->set_cert_pem(pem.cert);
      certificate->set_key_pem(pem.key);
    }
    AddCluster(config, "ns/up:443", up);
    return config;
  }

  Pem a_ = MakeCertificate("a", "DNS:a.example");
  Pem wild_ = MakeCertificate("wild", "DNS:*.wild.example");
  Pem default_ = MakeCertificate("default", "DNS:default.example");
  uint16_t port_ = 0;
  uint64_t generation_ = 0;
  std::unique_ptr<Server> server_;
};

TEST_F(ProxyTlsTest, SniSelectsTheListenerCertificate) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  struct Case {
    std::string sni, cn;
  } cases[] = {{"a.example", "a"},
               {"x.wild.example", "wild"},
               {"other.example", "default"},
               {"A.EXAMPLE", "a"}};
  for (const Case& c : cases) {
    TlsClient client(port_, c.sni);
    ASSERT_TRUE(client.ok()) << c.sni;
    EXPECT_EQ(client.PeerCommonName(), c.cn) << c.sni;
    EXPECT_GE(client.version(), TLS1_2_VERSION);
  }
  TlsClient client(port_, "a.example");
  std::string response = client.Request("a.example", "/secure");
  EXPECT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
  ASSERT_TRUE(up.WaitRequests(1));
  EXPECT_EQ(up.requests()[0].headers["x-forwarded-proto"], "https");
}

// Reading stops at a short recv with nothing left in OpenSSL's buffer: requests that come
// in many tiny records or in more bytes than one read-ahead holds are still read whole.
TEST_F(ProxyTlsTest, RequestsInManyRecordsAndLargeBodiesAreReadWhole) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  TlsClient client(port_, "a.example");
  ASSERT_TRUE(client.ok());
  // ~3 KiB of head in 1-byte records: ~70 KiB on the wire, several read-aheads.
  std::string head =
      "GET /tiny HTTP/1.1\r\nHost: a.example\r\nX-Pad: " + std::string(3000, 'p') + "\r\n\r\n";
  client.Send(head, 1);
  EXPECT_NE(client.ReadResponse().find("200 OK"), std::string::npos);
  std::string body(300 * 1024, 'b');
  client.Send("POST /big HTTP/1.1\r\nHost: a.example\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_NE(client.ReadResponse().find("200 OK"), std::string::npos);
  ASSERT_TRUE(up.WaitRequests(2));
  std::vector<testing::ReceivedRequest> requests = up.requests();
  EXPECT_EQ(requests[0].headers["x-pad"], std::string(3000, 'p'));
  EXPECT_EQ(requests[1].body.size(), body.size());
  EXPECT_EQ(requests[0].connection, requests[1].connection);  // one keep-alive connection
}

TEST_F(ProxyTlsTest, Tls11IsRefused) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  TlsClient old(port_, "a.example", TLS1_1_VERSION);
  EXPECT_FALSE(old.ok());
  // The server answered with a protocol_version alert: it refused, not the client.
  EXPECT_EQ(ERR_GET_REASON(old.error()), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
      << ERR_reason_error_string(old.error());
  TlsClient current(port_, "a.example", TLS1_2_VERSION);
  EXPECT_TRUE(current.ok());
  // Counted by reason (the worker may count just after the client saw the alert).
  uint64_t refused = 0, ok = 0;
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(10ms)) {
    api::ProxyStats stats = server_->Stats();
    for (const auto& t : stats.tls_handshakes()) {
      if (t.result() == "ok") ok = t.count();
      if (t.reason() == "protocol_version") refused = t.count();
    }
    if (refused == 1 && ok == 1) break;
  }
  EXPECT_EQ(refused, 1u);
  EXPECT_EQ(ok, 1u);
}

TEST_F(ProxyTlsTest, CertificateSwapKeepsOpenConnections) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  TlsClient held(port_, "a.example");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held.PeerCommonName(), "a");
  EXPECT_NE(held.Request("a.example", "/1").find(" 200 "), std::string::npos);

  Apply(HttpsConfig(up, MakeCertificate("a-renewed", "DNS:a.example")));
  EXPECT_NE(held.Request("a.example", "/2").find(" 200 "), std::string::npos);
  TlsClient fresh(port_, "a.example");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.PeerCommonName(), "a-renewed");
}

// A swap that leaves a certificate as it was keeps its context (nothing parsed again, tickets
// still resume) and the port's front context; a renewed certificate gets a new one.
TEST_F(ProxyTlsTest, UnchangedCertificatesKeepTheirContextsAcrossSwaps) {
  TestUpstream up("up");
  auto port_tls = [&] {
    auto config = server_->config();
    return std::pair{config, config->tls(config->table().ports().front())};
  };
  Apply(HttpsConfig(up, a_));
  auto [first, first_tls] = port_tls();
  ASSERT_NE(first_tls, nullptr);

  api::L7Config more = HttpsConfig(up, a_);
  AddRoute(*more.mutable_ports(0)->mutable_listeners(0)->mutable_virtual_hosts(0), "r2", "/more",
           "ns/up:443");
  Apply(more);
  auto [second, second_tls] = port_tls();
  EXPECT_NE(first, second);
  EXPECT_EQ(second_tls, first_tls) << "same listeners and certificates: the port's TLS is kept";

  Apply(HttpsConfig(up, MakeCertificate("a-renewed", "DNS:a.example")));
  auto [third, third_tls] = port_tls();
  EXPECT_NE(third_tls, first_tls);
  EXPECT_NE(third_tls->Select("a.example"), first_tls->Select("a.example"));
  EXPECT_EQ(third_tls->Select("x.wild.example"), first_tls->Select("x.wild.example"));
  EXPECT_EQ(third_tls->Select(""), first_tls->Select(""));
  TlsClient fresh(port_, "a.example");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.PeerCommonName(), "a-renewed");
}

TEST_F(ProxyTlsTest, BadCertificateIsRefusedAndOldOneKept) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  Pem broken = a_;
  broken.key = default_.key;  // does not match the certificate
  api::L7Config config = HttpsConfig(up, broken);
  config.set_generation(++generation_);
  auto status = server_->Apply(config);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("ns/a"), std::string::npos) << status;
  TlsClient client(port_, "a.example");
  EXPECT_TRUE(client.ok());
  EXPECT_EQ(client.PeerCommonName(), "a");
}

// The first flight of a TLS client handshake (its ClientHello), made with memory BIOs.
std::string ClientHello(const std::string& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_connect(ssl);
  std::string hello = BioText(out);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

TEST_F(ProxyTlsTest, PassthroughRoutesBySniAndSplicesBytes) {
  TestUpstream one("one"), two("two");
  api::L7Config config;
  api::Port* port = config.add_ports();
  port->set_port(port_);
  port->set_protocol(api::Port::TLS_PASSTHROUGH);
  AddRoute(*AddVirtualHost(*port, "one.example"), "tls-one", "", "ns/one:443");
  AddRoute(*AddVirtualHost(*port, "*.two.example"), "tls-two", "", "ns/two:443");
  for (auto& vhost : *port->mutable_listeners(0)->mutable_virtual_hosts()) {
    vhost.mutable_routes(0)->set_route_kind("TLSRoute");
    vhost.mutable_routes(0)->clear_match();
  }
  AddCluster(config, "ns/one:443", one);
  AddCluster(config, "ns/two:443", two);
  Apply(config);

  std::string hello_one = ClientHello("one.example");
  ASSERT_GT(hello_one.size(), 50u);
  testing::Client client("127.0.0.1", port_);
  // Split the ClientHello so the proxy must wait for all of it.
  client.Send(hello_one.substr(0, 20));
  client.Send(hello_one.substr(20));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (one.raw().size() < hello_one.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(one.raw(), hello_one);

  std::string hello_two = ClientHello("x.two.example");
  testing::Client client_two("127.0.0.1", port_);
  client_two.Send(hello_two);
  deadline = std::chrono::steady_clock::now() + 5s;
  while (two.raw().size() < hello_two.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(two.raw(), hello_two);

  // No route for the name: the connection is closed, nothing forwarded.
  testing::Client stranger("127.0.0.1", port_);
  stranger.Send(ClientHello("three.example"));
  EXPECT_TRUE(stranger.WaitClosed());
  EXPECT_EQ(one.raw().size() + two.raw().size(), hello_one.size() + hello_two.size());
}

// A small blocking HTTP/2 client (TLS, ALPN h2) on nghttp2's client session.
class H2Client {
 public:
  struct Result {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    bool closed = false;
  };

  H2Client(uint16_t port, const std::string& sni) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn));
    fd_ = testing::ConnectLoopback(port);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    if (SSL_connect(ssl_) != 1) return;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
    alpn_ = std::string(reinterpret_cast<const char*>(alpn), alpn_length);

    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
          auto& result = static_cast<H2Client*>(user)->results_[frame->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), namelen);
          std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":status") result.status = std::stoi(v);
          result.headers[n] = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks,
        [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
          static_cast<H2Client*>(user)->results_[id].body.append(
              reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks, [](nghttp2_session*, int32_t id, uint32_t, void* user) {
          static_cast<H2Client*>(user)->results_[id].closed = true;
          return 0;
        });
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Client() {
    if (session_) nghttp2_session_del(session_);
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    close(fd_);
  }
  const std::string& alpn() const { return alpn_; }

  int32_t Submit(const std::string& method, const std::string& authority, const std::string& path,
                 const std::string* body = nullptr) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method},  {":scheme", "https"}, {":authority", authority}, {":path", path},
        {"x-h2-test", "yes"}, {"cookie", "a=1"},    {"cookie", "b=2"}};
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    if (body) {
      bodies_.push_back({*body, 0});
      provider.source.ptr = &bodies_.back();
      provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                  uint32_t* flags, nghttp2_data_source* source, void*) {
        auto* pending = static_cast<std::pair<std::string, size_t>*>(source->ptr);
        size_t n = std::min(length, pending->first.size() - pending->second);
        memcpy(buf, pending->first.data() + pending->second, n);
        pending->second += n;
        if (pending->second == pending->first.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      };
    }
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                        body ? &provider : nullptr, nullptr);
    results_[id];
    return id;
  }

  // Runs the session until every submitted stream closed (bounded by the socket timeout).
  bool Run() {
    for (;;) {
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
        if (SSL_write(ssl_, data, static_cast<int>(n)) <= 0) return false;
      }
      bool all_closed = true;
      for (auto& [id, result] : results_) all_closed = all_closed && result.closed;
      if (all_closed) return true;
      char buffer[16384];
      int got = SSL_read(ssl_, buffer, sizeof(buffer));
      if (got <= 0) return false;
      if (nghttp2_session_mem_recv(session_, reinterpret_cast<uint8_t*>(buffer), got) < 0) {
        return false;
      }
    }
  }
  Result& result(int32_t id) { return results_[id]; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string alpn_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Result> results_;
  std::list<std::pair<std::string, size_t>> bodies_;
};

TEST_F(ProxyTlsTest, Http2RequestsTakeTheSameRoutingPath) {
  TestUpstream up("up");
  Apply(HttpsConfig(up, a_));
  H2Client client(port_, "a.example");
  ASSERT_EQ(client.alpn(), "h2");
  std::string upload(300 * 1024, 'u');
  int32_t get = client.Submit("GET", "a.example", "/h2/get?x=1");
  int32_t post = client.Submit("POST", "a.example", "/echo", &upload);
  int32_t chunked = client.Submit("GET", "a.example", "/chunked");
  int32_t missing = client.Submit("GET", "a.example", "/status/404");
  ASSERT_TRUE(client.Run());
  EXPECT_EQ(client.result(get).status, 200);
  EXPECT_EQ(client.result(get).body, "up /h2/get?x=1");
  EXPECT_EQ(client.result(get).headers["x-upstream"], "up");
  EXPECT_EQ(client.result(post).status, 200);
  EXPECT_EQ(client.result(post).body, upload);
  EXPECT_EQ(client.result(chunked).body, "one,two,three");
  EXPECT_EQ(client.result(missing).status, 404);
  EXPECT_EQ(server_->Stats().h2_streams_total(), 4u);

  ASSERT_TRUE(up.WaitRequests(4));
  bool saw_get = false;
  for (const auto& request : up.requests()) {
    if (request.path != "/h2/get?x=1") continue;
    saw_get = true;
    EXPECT_EQ(request.host, "a.example");
    EXPECT_EQ(request.headers.at("x-h2-test"), "yes");
    EXPECT_EQ(request.headers.at("cookie"), "a=1; b=2");
    EXPECT_EQ(request.headers.at("x-forwarded-proto"), "https");
  }
  EXPECT_TRUE(saw_get);
}

}  // namespace
}  // namespace xgate::proxy
