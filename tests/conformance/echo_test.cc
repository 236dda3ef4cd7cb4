// The echo backend: its pure parts, then a real server on loopback answering the runner's
// own client over TCP, TLS and UDP.
#include "tools/echo/echo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tools/conformance/certs.h"
#include "tools/conformance/checks.h"
#include "tools/conformance/client.h"
#include "tools/conformance/grpc_client.h"

namespace xgate::echo {
namespace {

using conformance::Client;
using conformance::PlainSocket;
using conformance::Response;

TEST(EchoBackend, CanonicalHeaderKeysAsGo) {
  EXPECT_EQ(CanonicalHeaderKey("x-foo-bar"), "X-Foo-Bar");
  EXPECT_EQ(CanonicalHeaderKey("X-UPPERCASE-ADD"), "X-Uppercase-Add");
  EXPECT_EQ(CanonicalHeaderKey("content-length"), "Content-Length");
  EXPECT_EQ(CanonicalHeaderKey("x_under"), "X_under");
  EXPECT_EQ(CanonicalHeaderKey("bad header"), "bad header");  // not a token: as is
}

TEST(EchoBackend, SetHeaderRequests) {
  Headers h = ParseEchoSetHeader("X-Header-Set:v1, x-lower:a,Another:b ,x-LOWER:c,bad");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].name, "X-Header-Set");
  EXPECT_EQ(h[0].value, "v1");
  EXPECT_EQ(h[1].name, "x-lower");  // case kept as written
  EXPECT_EQ(h[1].value, "a,c");     // given twice: one header, values joined
  EXPECT_EQ(h[2].value, "b");
}

TEST(EchoBackend, DelayAndQuery) {
  EXPECT_EQ(*RequestDelay("/a?delay=500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*RequestDelay("/a?x=1&delay=1s"), absl::Seconds(1));
  EXPECT_EQ(*RequestDelay("/a?delay=1m30s"), absl::Seconds(90));
  EXPECT_EQ(*RequestDelay("/a"), absl::ZeroDuration());
  EXPECT_FALSE(RequestDelay("/a?delay=soon").ok());
  EXPECT_EQ(QueryParam("/p?a=1&b=2#frag", "b"), "2");
  EXPECT_EQ(QueryParam("/p?a", "a"), "");
  EXPECT_FALSE(QueryParam("/p", "a").has_value());
}

TEST(EchoBackend, JsonBody) {
  Message m{
      "POST", "/x?y=z", "HTTP/1.1", {{"Host", "example.com"}, {"x-a", "1"}, {"X-A", "2"}}, ""};
  nlohmann::json j = EchoJson(m, "ns", "svc-0");
  EXPECT_EQ(j["path"], "/x?y=z");
  EXPECT_EQ(j["host"], "example.com");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["proto"], "HTTP/1.1");
  EXPECT_EQ(j["headers"]["X-A"], nlohmann::json({"1", "2"}));
  EXPECT_FALSE(j["headers"].contains("Host"));
  EXPECT_EQ(j["namespace"], "ns");
  EXPECT_EQ(j["pod"], "svc-0");
}

TEST(EchoBackend, FailRequestsAndWebSocketAccept) {
  std::optional<FailRequest> f = ParseEchoFail("2:503:run-7");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->count, 2);
  EXPECT_EQ(f->status, 503);
  EXPECT_EQ(f->key, "run-7");
  EXPECT_EQ(ParseEchoFail("1:500:a:b")->key, "a:b");  // the key is the rest
  EXPECT_FALSE(ParseEchoFail("2:503").has_value());
  EXPECT_FALSE(ParseEchoFail("x:503:k").has_value());
  EXPECT_FALSE(ParseEchoFail("1:99:k").has_value());
  EXPECT_FALSE(ParseEchoFail("1:500:").has_value());
  // RFC 6455 1.3's example.
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// A server on loopback for the rest of the test program (its threads never end).
struct Served {
  EchoServer* server;
  std::string log;
};

Served Serve(EchoConfig cfg) {
  auto* s = new EchoServer(cfg);
  absl::Status st = s->Start();
  EXPECT_TRUE(st.ok()) << st;
  std::thread([s] { s->Serve(); }).detach();
  return {s, cfg.log_path};
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + std::to_string(getpid()))).string();
}

// The echo serves TLS with `cert` (its files written under `name`), in namespace infra as
// `pod`.
void ServeTls(EchoConfig& cfg, const conformance::IssuedCert& cert, const std::string& name,
              const std::string& pod) {
  cfg.tls_cert = TempPath(name + "-crt");
  cfg.tls_key = TempPath(name + "-key");
  std::ofstream(cfg.tls_cert) << cert.chain_pem;
  std::ofstream(cfg.tls_key) << cert.key_pem;
  cfg.ns = "infra";
  cfg.pod = pod;
}

int UdpPort(const std::string& addr) {
  // Bind to learn a free port, then release it for the server.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

TEST(EchoBackendServer, AnswersTheRunnersClientAndLogs) {
  EchoConfig cfg;
  cfg.listen = {"127.0.0.1:0"};
  int udp = UdpPort("127.0.0.1");
  cfg.udp = {"127.0.0.1:" + std::to_string(udp)};
  cfg.ns = "infra";
  cfg.pod = "web-0";
  cfg.log_path = TempPath("echo-log");
  std::filesystem::remove(cfg.log_path);
  Served s = Serve(cfg);
  int port = s.server->tcp_ports()[0];
  Client client(PlainSocket, "");

  conformance::Request r;
  r.gateway_ns = "infra";
  r.gateway_name = "gw";
  r.host = "example.com";
  r.path = "/hello?delay=50ms";
  r.headers = {{"x-header-add-append", "v1"}};
  r.backend_response_headers = {{"X-Back", "b1"}, {"x-back", "b2"}};
  r.expect.status = 200;
  r.expect.backend = "web";
  r.expect.request.headers = {{"X-Header-Add-Append", "v1"}};
  r.expect.headers = {{"X-Back", "b1,b2"}};
  absl::Time start = absl::Now();
  absl::StatusOr<Response> resp =
      client.Http("127.0.0.1", port, false, "", conformance::BuildHttpRequest(r, "127.0.0.1"),
                  absl::Seconds(5));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_EQ(conformance::CheckHttpAnswer(r, *resp), "");

  // Keep-alive: two requests on one connection, the second closing it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  Stream conn(fd, nullptr);
  ASSERT_TRUE(conn.WriteAll("POST /one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\n\r\n"
                            "GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                  .ok());
  for (const char* path : {"/one", "/two"}) {
    absl::StatusOr<Message> head = ReadHead(conn);
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->second, "200");
    ASSERT_TRUE(ReadBody(conn, *head, false).ok());
    EXPECT_EQ(nlohmann::json::parse(head->body)["path"], path);
  }
  EXPECT_TRUE(conn.AtEof());

  absl::StatusOr<std::string> dgram = client.Udp("127.0.0.1", udp, "ping", absl::Seconds(2));
  ASSERT_TRUE(dgram.ok()) << dgram.status();
  EXPECT_EQ(nlohmann::json::parse(*dgram),
            nlohmann::json({{"namespace", "infra"}, {"pod", "web-0"}}));

  std::ifstream log(s.log);
  std::string line;
  std::vector<std::string> paths;
  while (std::getline(log, line)) paths.push_back(conformance::ParseEcho(line)->path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/hello?delay=50ms", "/one", "/two"}));
  std::filesystem::remove(s.log);
}

// X3: the first N requests with a key fail, each answer counts the attempts; X4: the
// WebSocket upgrade, the JSON line, the echo.
TEST(EchoBackendServer, FailsOnRequestAndEchoesAWebSocket) {
  EchoConfig cfg;
  cfg.listen = {"127.0.0.1:0"};
  cfg.ns = "infra";
  cfg.pod = "ws-0";
  Served s = Serve(cfg);
  int port = s.server->tcp_ports()[0];
  Client client(PlainSocket, "");
  auto send = [&](const std::string& raw) {
    absl::StatusOr<Response> resp =
        client.Http("127.0.0.1", port, false, "", raw, absl::Seconds(5));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *resp : Response();
  };
  std::string failing = "GET /f HTTP/1.1\r\nHost: a\r\nX-Echo-Fail: 2:503:k1\r\n\r\n";
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Response r = send(failing);
    EXPECT_EQ(r.status, attempt <= 2 ? 503 : 200) << attempt;
    EXPECT_EQ(JoinedHeader(r.headers, "X-Echo-Attempt"), std::to_string(attempt));
    EXPECT_EQ(conformance::ParseEcho(r.body).has_value(), attempt == 3);
  }
  // Two runner requests with the same expectation carry distinct keys.
  conformance::Request r;
  r.path = "/g";
  r.backend_failures = 1;
  EXPECT_NE(conformance::BuildHttpRequest(r, "127.0.0.1"),
            conformance::BuildHttpRequest(r, "127.0.0.1"));
  EXPECT_EQ(send(conformance::BuildHttpRequest(r, "127.0.0.1")).status, 500);

  conformance::Request ws;
  ws.gateway_ns = "infra";
  ws.path = "/ws";
  ws.websocket = "bytes both ways";
  ws.expect.backend = "ws";
  ws.expect.headers = {{"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
  absl::StatusOr<Response> up =
      client.Http("127.0.0.1", port, false, "", conformance::BuildHttpRequest(ws, "127.0.0.1"),
                  absl::Seconds(5), ws.websocket);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->status, 101);
  EXPECT_EQ(up->websocket_echo, "bytes both ways");
  EXPECT_EQ(conformance::CheckHttpAnswer(ws, *up), "");
  ws.websocket = "something else";  // the check can fail
  EXPECT_NE(conformance::CheckHttpAnswer(ws, *up), "");
}

TEST(EchoBackendServer, TlsWithARunnerCertificate) {
  absl::StatusOr<conformance::CertAuthority> ca =
      conformance::CertAuthority::Create("echo test CA");
  ASSERT_TRUE(ca.ok());
  absl::StatusOr<conformance::IssuedCert> cert = ca->Issue({"abc.example.com", "*.org"});
  ASSERT_TRUE(cert.ok());
  EchoConfig cfg;
  cfg.listen = {"127.0.0.1:0"};
  ServeTls(cfg, *cert, "echo", "tls-backend-0");
  Served s = Serve(cfg);
  int port = s.server->tcp_ports()[0];
  std::string req = "GET / HTTP/1.1\r\nHost: abc.example.com\r\n\r\n";

  Client client(PlainSocket, ca->ca_pem());
  absl::StatusOr<Response> ok =
      client.Http("127.0.0.1", port, true, "abc.example.com", req, absl::Seconds(5));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(conformance::ParseEcho(ok->body)->pod, "tls-backend-0");
  EXPECT_TRUE(
      client.Http("127.0.0.1", port, true, "second-example.org", req, absl::Seconds(5)).ok());
  // A name the certificate does not carry, and a client trusting another CA, both fail.
  absl::StatusOr<Response> wrong_name =
      client.Http("127.0.0.1", port, true, "xyz.example.com", req, absl::Seconds(5));
  EXPECT_FALSE(wrong_name.ok());
  absl::StatusOr<conformance::CertAuthority> other = conformance::CertAuthority::Create("other");
  Client stranger(PlainSocket, other->ca_pem());
  EXPECT_FALSE(
      stranger.Http("127.0.0.1", port, true, "abc.example.com", req, absl::Seconds(5)).ok());
  std::filesystem::remove(cfg.tls_cert);
  std::filesystem::remove(cfg.tls_key);
}

// X6: xgate-echo --grpc answers the runner's gRPC client with the method, authority, metadata
// and the pod's identity; a method no service has is UNIMPLEMENTED.
TEST(EchoBackendServer, GrpcEchoAnswersTheRunnersGrpcClient) {
  EchoConfig cfg;
  cfg.grpc = {"127.0.0.1:0"};
  cfg.ns = "infra";
  cfg.pod = "grpc-infra-backend-v1-0";
  Served s = Serve(cfg);
  ASSERT_EQ(s.server->grpc_ports().size(), 1u);
  int port = s.server->grpc_ports()[0];
  Client client(PlainSocket, "");

  conformance::Request r;
  r.gateway_ns = "infra";
  r.grpc_method = "EchoTwo";
  r.expect.grpc_status = 0;
  r.expect.backend = "grpc-infra-backend-v1";
  r.expect.request.host = "grpc.example.com";
  r.expect.request.headers = {{"Version", "two"}};
  absl::StatusOr<int> fd = client.Tcp("127.0.0.1", port, absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::StatusOr<conformance::GrpcAnswer> got = conformance::CallGrpcEcho(
      *fd, "grpc.example.com", "EchoTwo", {{"Version", "two"}}, absl::Seconds(10));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->code, 0) << got->message;
  EXPECT_EQ(got->fully_qualified_method,
            "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo");
  EXPECT_EQ(got->ns, "infra");
  EXPECT_EQ(conformance::CheckGrpcAnswer(r, *got), "");
  r.expect.backend = "grpc-infra-backend-v2";
  EXPECT_NE(conformance::CheckGrpcAnswer(r, *got).find("want infra/grpc-infra-backend-v2"),
            std::string::npos);
  r.expect.grpc_status = 12;
  EXPECT_NE(conformance::CheckGrpcAnswer(r, *got).find("gRPC status 0"), std::string::npos);
}

// One Echo call for grpc.example.com (metadata x-over: tls) by the runner's gRPC client to
// 127.0.0.1:`port`, over TLS when `tls` is given; code -1 when no call could be made.
conformance::GrpcAnswer CallEcho(int port, const conformance::GrpcTls* tls) {
  Client client(PlainSocket, "");
  absl::StatusOr<int> fd = client.Tcp("127.0.0.1", port, absl::Seconds(5));
  EXPECT_TRUE(fd.ok()) << fd.status();
  absl::StatusOr<conformance::GrpcAnswer> got = conformance::CallGrpcEcho(
      fd.ok() ? *fd : -1, "grpc.example.com", "Echo", {{"x-over", "tls"}}, absl::Seconds(10), tls);
  EXPECT_TRUE(got.ok()) << got.status();
  conformance::GrpcAnswer failed;
  failed.code = -1;
  return got.ok() ? *got : failed;
}

// X6 over HTTPS: the runner's gRPC client speaks TLS (gRPC's SSL credentials, ALPN h2) to a
// GrpcEcho serving a runner-made certificate, trusting only the run's CA and checking the
// request's host; a name the certificate does not carry, another CA, or h2c to the TLS port
// all fail the call.
TEST(EchoBackendServer, GrpcEchoAnswersTheRunnersGrpcClientOverTls) {
  absl::StatusOr<conformance::CertAuthority> ca =
      conformance::CertAuthority::Create("echo test CA");
  ASSERT_TRUE(ca.ok());
  absl::StatusOr<conformance::IssuedCert> cert = ca->Issue({"grpc.example.com"});
  ASSERT_TRUE(cert.ok());
  EchoConfig cfg;
  cfg.grpc = {"127.0.0.1:0"};
  ServeTls(cfg, *cert, "grpc", "grpc-infra-backend-v1-0");
  Served s = Serve(cfg);
  ASSERT_EQ(s.server->grpc_ports().size(), 1u);
  int port = s.server->grpc_ports()[0];
  auto call = [port](const conformance::GrpcTls* tls) { return CallEcho(port, tls); };

  conformance::GrpcTls tls{ca->ca_pem(), "grpc.example.com"};
  conformance::GrpcAnswer ok = call(&tls);
  EXPECT_EQ(ok.code, 0) << ok.message;
  EXPECT_EQ(ok.pod, "grpc-infra-backend-v1-0");
  EXPECT_EQ(ok.authority, "grpc.example.com");
  EXPECT_EQ(ok.fully_qualified_method,
            "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo");

  conformance::GrpcTls wrong_name{ca->ca_pem(), "other.example.com"};
  EXPECT_EQ(call(&wrong_name).code, 14);  // UNAVAILABLE: the handshake failed
  absl::StatusOr<conformance::CertAuthority> other = conformance::CertAuthority::Create("other");
  ASSERT_TRUE(other.ok());
  conformance::GrpcTls stranger{other->ca_pem(), "grpc.example.com"};
  EXPECT_EQ(call(&stranger).code, 14);
  EXPECT_NE(call(nullptr).code, 0) << "h2c to a TLS port";
  std::filesystem::remove(cfg.tls_cert);
  std::filesystem::remove(cfg.tls_key);
}

// X6 with X11's clientCertificate: the runner's gRPC client presents the runner-made
// certificate to a GrpcEcho that requires one of a client CA (xgate-echo --grpc --tls-client-ca),
// and a call without it, or with one of another CA, fails the handshake.
TEST(EchoBackendServer, GrpcEchoOverTlsGetsTheRunnersClientCertificate) {
  absl::StatusOr<conformance::CertAuthority> ca = conformance::CertAuthority::Create("echo CA");
  absl::StatusOr<conformance::CertAuthority> client_ca =
      conformance::CertAuthority::Create("client CA");
  ASSERT_TRUE(ca.ok() && client_ca.ok());
  absl::StatusOr<conformance::IssuedCert> cert = ca->Issue({"grpc.example.com"});
  absl::StatusOr<conformance::IssuedCert> client = client_ca->Issue({"client.example.com"});
  absl::StatusOr<conformance::IssuedCert> stranger = ca->Issue({"stranger.example.com"});
  ASSERT_TRUE(cert.ok() && client.ok() && stranger.ok());
  EchoConfig cfg;
  cfg.grpc = {"127.0.0.1:0"};
  ServeTls(cfg, *cert, "grpc-mtls", "grpc-infra-backend-v1-0");
  cfg.tls_client_ca = TempPath("grpc-mtls-client-ca");
  std::ofstream(cfg.tls_client_ca) << client_ca->ca_pem();
  Served s = Serve(cfg);
  ASSERT_EQ(s.server->grpc_ports().size(), 1u);
  int port = s.server->grpc_ports()[0];
  auto call = [&](const conformance::IssuedCert* presented) {
    conformance::GrpcTls tls{ca->ca_pem(), "grpc.example.com", presented};
    return CallEcho(port, &tls).code;
  };
  EXPECT_EQ(call(&*client), 0) << "the client certificate is presented";
  EXPECT_EQ(call(nullptr), 14) << "no certificate: UNAVAILABLE";
  EXPECT_EQ(call(&*stranger), 14) << "a certificate of another CA";
  for (const std::string& f : {cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca}) {
    std::filesystem::remove(f);
  }
}

}  // namespace
}  // namespace xgate::echo
