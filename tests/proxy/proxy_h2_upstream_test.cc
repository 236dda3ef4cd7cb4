// HTTP/2 cleartext to backends (a cluster with protocol H2C, what appProtocol kubernetes.io/h2c
// compiles to): the real proxy on loopback in front of xgate-echo's h2c mode, clients speaking
// HTTP/1.1 and HTTP/2 (TLS, ALPN h2) through libcurl.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "tools/echo/echo.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;
using testing::kH2Sni;
using testing::TestUpstream;

// One h2c echo for the whole suite: it never stops, the process ends it.
uint16_t EchoPort() {
  static uint16_t port = [] {
    echo::EchoConfig config;
    config.h2c = {"127.0.0.1:0"};
    config.ns = "ns";
    config.pod = "h2-0";
    auto* server = new echo::EchoServer(config);
    if (!server->Start().ok()) return uint16_t{0};
    std::thread([server] { server->Serve(); }).detach();
    return static_cast<uint16_t>(server->h2c_ports()[0]);
  }();
  return port;
}

struct Fetched {
  long status = 0;
  long version = 0;  // CURL_HTTP_VERSION_1_1 or _2_0
  std::string body;
  std::vector<std::string> header_lines;  // trailers included, after the body's
  std::string error;

  bool HasLine(const std::string& line) const {
    for (const auto& l : header_lines) {
      if (l == line) return true;
    }
    return false;
  }
};

struct FetchOptions {
  bool h2 = false;   // over the HTTPS port with ALPN h2, else HTTP/1.1 on the HTTP port
  bool h2c = false;  // HTTP/2 with prior knowledge on the HTTP port
  std::string path = "/";
  std::vector<std::string> headers = {};
  const std::string* post = nullptr;  // with Content-Length
  bool chunked_with_trailer = false;  // the body is sent chunked with "X-Client-Trailer: t1"
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectLine(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  static_cast<std::vector<std::string>*>(out)->push_back(line);
  return size * n;
}

int AddTrailer(curl_slist** list, void*) {
  *list = curl_slist_append(*list, "X-Client-Trailer: t1");
  return CURL_TRAILERFUNC_OK;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t n, void* user) {
  auto* upload = static_cast<Upload*>(user);
  size_t take = std::min(size * n, upload->data->size() - upload->offset);
  std::copy_n(upload->data->data() + upload->offset, take, buffer);
  upload->offset += take;
  return take;
}

Fetched Fetch(uint16_t http_port, uint16_t https_port, const FetchOptions& options) {
  Fetched out;
  CURL* curl = curl_easy_init();
  std::string url = options.h2 ? "https://" + std::string(kH2Sni) + ":" +
                                     std::to_string(https_port) + options.path
                               : "http://127.0.0.1:" + std::to_string(http_port) + options.path;
  curl_slist* resolve = curl_slist_append(
      nullptr, (std::string(kH2Sni) + ":" + std::to_string(https_port) + ":127.0.0.1").c_str());
  curl_slist* headers = nullptr;
  for (const auto& h : options.headers) headers = curl_slist_append(headers, h.c_str());
  Upload upload{options.post};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                   options.h2    ? CURL_HTTP_VERSION_2TLS
                   : options.h2c ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                 : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectLine);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.header_lines);
  if (options.post) headers = curl_slist_append(headers, "Expect:");  // no 1 s wait for 100
  if (options.post && options.chunked_with_trailer) {
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    headers = curl_slist_append(headers, "Trailer: X-Client-Trailer");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_TRAILERFUNCTION, AddTrailer);
  } else if (options.post) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.post->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(options.post->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) out.error = curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &out.version);
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  curl_easy_cleanup(curl);
  return out;
}

class ProxyH2UpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    ASSERT_NE(EchoPort(), 0);
    http_port_ = testing::FreePort();
    https_port_ = testing::FreePort();
    upstream_ = std::make_unique<TestUpstream>("h1");
  }
  // One worker: every request shares one upstream pool, so connection counts are exact.
  // `h2c_port`: the backend the cluster (protocol H2C) points at.
  void StartProxy(uint16_t h2c_port) {
    ServerOptions options;
    options.workers = 1;
    options.upstream.connect_timeout = 2s;
    server_ = std::make_unique<Server>(options);
    server_->Start();
    api::L7Config config = HttpAndHttpsConfig(http_port_, https_port_, *upstream_);
    api::Cluster* cluster = config.mutable_clusters(0);
    cluster->set_protocol(api::H2C);
    cluster->mutable_endpoints(0)->set_port(h2c_port);
    ASSERT_TRUE(server_->Apply(config).ok());
    ASSERT_TRUE(server_->WaitApplied(1, 5s));
  }
  Fetched Get(FetchOptions options) { return Fetch(http_port_, https_port_, options); }
  uint64_t Connects() {
    api::ProxyStats stats = server_->Stats();
    for (const auto& c : stats.clusters()) {
      if (c.cluster() == "ns/up:80") return c.connects();
    }
    return 0;
  }

  uint16_t http_port_ = 0;
  uint16_t https_port_ = 0;
  std::unique_ptr<TestUpstream> upstream_;
  std::unique_ptr<Server> server_;
};

TEST_F(ProxyH2UpstreamTest, GetAndPostLargerThanTheWindowFromHttp1AndHttp2Clients) {
  StartProxy(EchoPort());
  std::string big(3 << 20, 'x');  // past the initial 64 KiB windows and the proxy's 1 MiB
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  for (bool h2 : {false, true}) {
    SCOPED_TRACE(h2 ? "HTTP/2 client" : "HTTP/1.1 client");
    Fetched get = Get({.h2 = h2, .path = "/hello?x=1"});
    ASSERT_EQ(get.status, 200) << get.error << get.body;
    EXPECT_EQ(get.version, h2 ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1);
    nlohmann::json json = nlohmann::json::parse(get.body);
    EXPECT_EQ(json["proto"], "HTTP/2.0");  // the backend was spoken HTTP/2
    EXPECT_EQ(json["path"], "/hello?x=1");
    EXPECT_EQ(json["method"], "GET");
    EXPECT_EQ(json["host"], h2 ? std::string(kH2Sni) + ":" + std::to_string(https_port_)
                               : "127.0.0.1:" + std::to_string(http_port_));

    Fetched post =
        Get({.h2 = h2, .path = "/upload", .headers = {"X-Echo-Return-Body: 1"}, .post = &big});
    ASSERT_EQ(post.status, 200) << post.error;
    EXPECT_EQ(post.body.size(), big.size());
    EXPECT_TRUE(post.body == big) << "the body came back changed";
  }
}

TEST_F(ProxyH2UpstreamTest, TrailersPassBothWays) {
  StartProxy(EchoPort());
  std::string body(100000, 'b');
  for (bool h2 : {false, true}) {
    SCOPED_TRACE(h2 ? "HTTP/2 client" : "HTTP/1.1 client");
    // Response trailers from the backend (what gRPC's status rides on).
    Fetched got =
        Get({.h2 = h2,
             .headers = {"TE: trailers", "X-Echo-Trailers: grpc-status:0,grpc-message:ok"},
             .post = &body});
    ASSERT_EQ(got.status, 200) << got.error;
    EXPECT_TRUE(got.HasLine("grpc-status: 0")) << ::testing::PrintToString(got.header_lines);
    EXPECT_TRUE(got.HasLine("grpc-message: ok")) << ::testing::PrintToString(got.header_lines);
    nlohmann::json json = nlohmann::json::parse(got.body);
    EXPECT_EQ(json["headers"]["Te"][0], "trailers");  // "TE: trailers" reaches an h2 backend
  }
  // Request trailers from an HTTP/1.1 chunked body reach the backend as HTTP/2 trailers.
  Fetched sent = Get({.path = "/t", .post = &body, .chunked_with_trailer = true});
  ASSERT_EQ(sent.status, 200) << sent.error;
  nlohmann::json json = nlohmann::json::parse(sent.body);
  EXPECT_EQ(json["trailers"]["x-client-trailer"][0], "t1") << json.dump();
}

TEST_F(ProxyH2UpstreamTest, ConcurrentRequestsShareOneConnectionAsStreams) {
  StartProxy(EchoPort());
  constexpr int kRequests = 40;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      // Each answer waits 400 ms at the backend: the requests are in flight together.
      Fetched got = Get({.h2 = i % 2 == 1, .path = "/c" + std::to_string(i) + "?delay=400ms"});
      if (got.status == 200 && nlohmann::json::parse(got.body)["proto"] == "HTTP/2.0") ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_EQ(Connects(), 1u) << "the requests did not share one HTTP/2 connection";
}

TEST_F(ProxyH2UpstreamTest, BackendGoawayRefusesAStreamThatIsSentAgainOnANewConnection) {
  StartProxy(EchoPort());
  // A slow request in flight on the connection (stream 1), then one the backend refuses with
  // a GOAWAY whose last stream id is 1: the first is still answered there, the second is
  // sent again on a new connection.
  Fetched slow;
  std::thread first([&] { slow = Get({.path = "/slow?delay=600ms"}); });
  // Once the connection is counted, the slow stream was submitted on it: the refused one
  // follows it on the same connection.
  ASSERT_TRUE(testing::WaitFor([&] { return Connects() == 1; }));
  Fetched refused = Get({.path = "/refused", .headers = {"X-Echo-Goaway: g1"}});
  first.join();
  EXPECT_EQ(slow.status, 200) << slow.error;
  ASSERT_EQ(refused.status, 200) << refused.error << refused.body;
  EXPECT_EQ(nlohmann::json::parse(refused.body)["path"], "/refused");
  EXPECT_EQ(Connects(), 2u);
  // Later requests use the new connection.
  EXPECT_EQ(Get({.path = "/after"}).status, 200);
  EXPECT_EQ(Connects(), 2u);
}

TEST_F(ProxyH2UpstreamTest, Http1OnlyBackendGetsAClear502NotAHang) {
  StartProxy(upstream_->port());  // the HTTP/1.1 test upstream, but the cluster says h2c
  auto start = std::chrono::steady_clock::now();
  for (bool h2 : {false, true}) {
    Fetched got = Get({.h2 = h2, .path = "/x"});
    EXPECT_EQ(got.status, 502) << got.error << got.body;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// gRPC clients speak HTTP/2 with prior knowledge to an HTTP port (the GRPCRoute spec requires
// it of HTTP listeners): the preface is recognised and the connection becomes HTTP/2.
TEST_F(ProxyH2UpstreamTest, PriorKnowledgeHttp2OnTheHttpPort) {
  StartProxy(EchoPort());
  for (int i = 0; i < 2; ++i) {
    Fetched got = Get({.h2c = true, .path = "/h2c"});
    ASSERT_EQ(got.status, 200) << got.error << got.body;
    EXPECT_EQ(got.version, CURL_HTTP_VERSION_2_0);
    EXPECT_EQ(nlohmann::json::parse(got.body)["path"], "/h2c");
  }
  Fetched h1 = Get({.path = "/h1"});  // HTTP/1.1 on the same port still works
  ASSERT_EQ(h1.status, 200) << h1.error;
  EXPECT_EQ(h1.version, CURL_HTTP_VERSION_1_1);
}

// What the proxy answers itself to a gRPC request over HTTP/2 is a trailers-only gRPC answer
// (HTTP 200, grpc-status); over HTTP/1.1, and for requests that are not gRPC, the HTTP status.
TEST_F(ProxyH2UpstreamTest, LocalAnswersToGrpcRequestsAreGrpcStatuses) {
  StartProxy(EchoPort());
  api::L7Config config = HttpAndHttpsConfig(http_port_, https_port_, *upstream_);
  config.set_generation(2);
  for (auto& port : *config.mutable_ports()) {
    api::VirtualHost* vhost = port.mutable_listeners(0)->mutable_virtual_hosts(0);
    vhost->mutable_routes(0)->mutable_match()->mutable_path()->set_value("/up.Svc");
    testing::AddRoute(*vhost, "down", "/down.Svc", "ns/down:80");
  }
  config.mutable_clusters(0)->set_protocol(api::H2C);
  config.mutable_clusters(0)->mutable_endpoints(0)->set_port(EchoPort());
  config.add_clusters()->set_name("ns/down:80");  // no endpoints: 503
  ASSERT_TRUE(server_->Apply(config).ok());
  ASSERT_TRUE(server_->WaitApplied(2, 5s));
  const std::string message(5, '\0');  // an empty gRPC message frame
  // The calls the proxy answers itself carry no body: curl 7.88 waits out its timeout when a
  // complete answer comes before it sent the body it still holds.
  const std::string none;
  const std::vector<std::string> grpc = {"Content-Type: application/grpc", "TE: trailers"};
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "h2 over TLS" : "h2c");
    Fetched unrouted =
        Get({.h2 = tls, .h2c = !tls, .path = "/nope.Svc/M", .headers = grpc, .post = &none});
    EXPECT_EQ(unrouted.status, 200) << unrouted.error;
    EXPECT_TRUE(unrouted.HasLine("grpc-status: 12"))
        << ::testing::PrintToString(unrouted.header_lines);
    EXPECT_TRUE(unrouted.HasLine("grpc-message: no route"));
    EXPECT_TRUE(unrouted.HasLine("content-type: application/grpc"));
    EXPECT_TRUE(unrouted.body.empty());

    Fetched down =
        Get({.h2 = tls, .h2c = !tls, .path = "/down.Svc/M", .headers = grpc, .post = &none});
    EXPECT_EQ(down.status, 200) << down.error;
    EXPECT_TRUE(down.HasLine("grpc-status: 14")) << ::testing::PrintToString(down.header_lines);

    Fetched routed =
        Get({.h2 = tls, .h2c = !tls, .path = "/up.Svc/M", .headers = grpc, .post = &message});
    EXPECT_EQ(routed.status, 200) << routed.error;
    EXPECT_FALSE(routed.HasLine("grpc-status: 12"));

    Fetched plain = Get({.h2 = tls, .h2c = !tls, .path = "/nope.Svc/M"});
    EXPECT_EQ(plain.status, 404) << "not gRPC: the HTTP status";
  }
  Fetched h1 = Get({.path = "/nope.Svc/M", .headers = grpc, .post = &none});
  EXPECT_EQ(h1.status, 404) << "HTTP/1.1 keeps the status line";
  EXPECT_FALSE(h1.HasLine("grpc-status: 12"));
}

}  // namespace
}  // namespace xgate::proxy
