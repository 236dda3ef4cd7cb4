// WebSocket over HTTP/2 (RFC 8441) through the real proxy on loopback: an nghttp2 client speaks
// h2c with prior knowledge to the proxy's HTTP port and opens extended CONNECT streams; the
// proxy upgrades to xgate-echo's HTTP/1.1 WebSocket mode (or a test backend) and relays the
// stream's DATA both ways; to an h2c cluster (xgate-echo's h2c mode), HTTP/2 and HTTP/1.1
// clients' WebSockets go as extended CONNECTs upstream.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/proxy/h2_backend.h"
#include "tests/proxy/hostile.h"
#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"
#include "tools/echo/echo.h"
#include "userspace-proxy/server/h2_websocket.h"

namespace xgate::proxy {
namespace {

using testing::TestUpstream;

constexpr char kHttp1Upgrade[] =
    "GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// Reads an upgraded HTTP/1.1 connection's next line (the echo's JSON) out of `data`, reading
// more as needed; "" on EOF or timeout.
std::string ReadLine(int fd, std::string& data) {
  while (data.find('\n') == std::string::npos) {
    if (!testing::ReadRaw(fd, data, data.size() + 1)) return "";
  }
  size_t newline = data.find('\n');
  std::string line = data.substr(0, newline);
  data.erase(0, newline + 1);
  return line;
}

// An xgate-echo that serves until the process ends: HTTP/1.1 (WebSocket mode on Upgrade), or
// HTTP/2 only (h2c), which upgrades nothing. Its port, 0 if it could not start.
uint16_t StartEcho(bool h2c) {
  echo::EchoConfig config;
  (h2c ? config.h2c : config.listen) = {"127.0.0.1:0"};
  config.ns = "ns";
  config.pod = "ws-0";
  auto* server = new echo::EchoServer(config);
  if (!server->Start().ok()) return 0;
  std::thread([server] { server->Serve(); }).detach();
  return static_cast<uint16_t>(h2c ? server->h2c_ports()[0] : server->tcp_ports()[0]);
}
uint16_t EchoPort() {
  static uint16_t port = StartEcho(false);
  return port;
}
uint16_t H2cEchoPort() {
  static uint16_t port = StartEcho(true);
  return port;
}

// An HTTP/2 client (cleartext, prior knowledge) on nghttp2's client session whose streams
// stay open: what a stream sends is fed through a data provider as the test writes it.
class H2TunnelClient {
 public:
  struct Stream {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string received;
    std::string to_send;
    bool end = false;           // END_STREAM once to_send is out
    bool remote_ended = false;  // the server's END_STREAM came
    bool closed = false;
    uint32_t close_code = 0;
  };

  explicit H2TunnelClient(uint16_t port) : fd_(testing::ConnectLoopback(port)) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
          Stream& s = static_cast<H2TunnelClient*>(user)->streams_[frame->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), namelen);
          std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":status") s.status = std::stoi(v);
          s.headers[n] = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
          auto* self = static_cast<H2TunnelClient*>(user);
          if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            self->settings_seen_ = true;
          }
          if (frame->hd.stream_id != 0 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
              (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
            self->streams_[frame->hd.stream_id].remote_ended = true;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks,
        [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
          static_cast<H2TunnelClient*>(user)->streams_[id].received.append(
              reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks, [](nghttp2_session*, int32_t id, uint32_t code, void* user) {
          Stream& s = static_cast<H2TunnelClient*>(user)->streams_[id];
          s.closed = true;
          s.close_code = code;
          return 0;
        });
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2TunnelClient() {
    nghttp2_session_del(session_);
    if (fd_ >= 0) close(fd_);
  }

  // Waits for the server's SETTINGS; its SETTINGS_ENABLE_CONNECT_PROTOCOL.
  uint32_t ConnectProtocolSetting() {
    Pump([&] { return settings_seen_; });
    return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL);
  }

  // An extended CONNECT (RFC 8441) for `protocol` to `path`.
  int32_t Connect(const std::string& protocol, const std::string& path) {
    Pump([&] { return settings_seen_; });  // a client may use :protocol only once allowed
    std::vector<std::pair<std::string, std::string>> fields = {{":method", "CONNECT"},
                                                               {":protocol", protocol},
                                                               {":scheme", "http"},
                                                               {":path", path},
                                                               {":authority", "ws.example"},
                                                               {"sec-websocket-version", "13"},
                                                               {"origin", "http://ws.example"}};
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = &H2TunnelClient::ReadOut;
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, this);
    streams_[id];
    return id;
  }
  void Send(int32_t id, const std::string& bytes) {
    streams_[id].to_send += bytes;
    nghttp2_session_resume_data(session_, id);
  }
  void End(int32_t id) {
    streams_[id].end = true;
    nghttp2_session_resume_data(session_, id);
  }
  void Reset(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }

  // Runs the session until `done` holds (false on a dead connection or after `timeout`).
  bool Pump(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
        if (send(fd_, data, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return false;
      }
      if (done()) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      uint8_t buffer[16384];
      ssize_t got = recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0 || nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(got)) < 0) {
        return done();
      }
    }
  }
  Stream& stream(int32_t id) { return streams_[id]; }

 private:
  static ssize_t ReadOut(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                         nghttp2_data_source*, void* user) {
    Stream& s = static_cast<H2TunnelClient*>(user)->streams_[id];
    size_t n = std::min(length, s.to_send.size());
    memcpy(buf, s.to_send.data(), n);
    s.to_send.erase(0, n);
    if (s.to_send.empty() && s.end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }

  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  bool settings_seen_ = false;
  std::map<int32_t, Stream> streams_;
};

// A backend that answers one WebSocket upgrade with a correct 101, sends `greeting` and
// closes the connection.
class ClosingBackend {
 public:
  explicit ClosingBackend(std::string greeting) : fd_(testing::ListenLoopback(&port_)) {
    thread_ = std::thread([this, greeting = std::move(greeting)] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char chunk[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        head.append(chunk, static_cast<size_t>(n));
      }
      std::string key;
      size_t at = head.find("Sec-WebSocket-Key: ");
      if (at != std::string::npos) {
        at += strlen("Sec-WebSocket-Key: ");
        key = head.substr(at, head.find("\r\n", at) - at);
      }
      std::string answer =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          WebSocketAccept(key) + "\r\n\r\n" + greeting;
      send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~ClosingBackend() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_ = -1;
  std::thread thread_;
};

class ProxyH2WebSocketTest : public ProxyServerTest {
 protected:
  // Every path of the HTTP port to 127.0.0.1:`backend_port`.
  void ApplyBackend(uint16_t backend_port, api::UpstreamProtocol protocol = api::HTTP1) {
    api::L7Config config;
    api::Port* port = testing::AddHttpPort(config, port_);
    testing::AddRoute(*testing::AddVirtualHost(*port, ""), "ws", "/", "ns/ws:80");
    api::Cluster* cluster = config.add_clusters();
    cluster->set_name("ns/ws:80");
    cluster->set_protocol(protocol);
    api::Endpoint* endpoint = cluster->add_endpoints();
    endpoint->set_address("127.0.0.1");
    endpoint->set_port(backend_port);
    Apply(config);
  }
  api::ProxyStats Stats() { return server_->Stats(); }
  // Opens a WebSocket stream to the echo and reads its JSON line (what the backend received).
  int32_t OpenEcho(H2TunnelClient& client, nlohmann::json* request) {
    int32_t id = client.Connect("websocket", "/chat?room=1");
    auto& s = client.stream(id);
    EXPECT_TRUE(
        client.Pump([&] { return s.received.find('\n') != std::string::npos || s.closed; }));
    EXPECT_EQ(s.status, 200);
    size_t newline = s.received.find('\n');
    if (newline != std::string::npos) {
      *request = nlohmann::json::parse(s.received.substr(0, newline));
      s.received.erase(0, newline + 1);
    }
    return id;
  }
  // The access log goes to a file of the test's own.
  std::filesystem::path OpenAccessLog() {
    std::filesystem::path log = std::filesystem::temp_directory_path() /
                                ("xgate-h2ws-log-" + std::to_string(getpid()) + ".log");
    std::filesystem::remove(log);
    EXPECT_TRUE(AccessLog::Open(log.string()).ok());
    return log;
  }
  void CloseAccessLog(const std::filesystem::path& log) {
    AccessLog::Disable();
    std::filesystem::remove(log);
  }
  // The access log's lines of one protocol ("HTTP/2 WebSocket", "HTTP/1.1"), in order.
  static std::vector<nlohmann::json> LogLines(const std::filesystem::path& log,
                                              const std::string& protocol) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      auto json = nlohmann::json::parse(line, nullptr, false);
      if (!json.is_discarded() && json["protocol"] == protocol) lines.push_back(json);
    }
    return lines;
  }
  // Through an open tunnel to an echo: bytes come back, past the 64 KiB stream windows on
  // each hop (flow control gives backpressure, nothing lost); then the client ends its side,
  // the backend ends its own, and the stream closes cleanly.
  void EchoBothWaysThenEnd(H2TunnelClient& client, int32_t id) {
    auto& s = client.stream(id);
    client.Send(id, "hello");
    EXPECT_TRUE(client.Pump([&] { return s.received == "hello"; })) << s.received;
    std::string big(700 * 1024, 'w');
    for (size_t i = 0; i < big.size(); i += 1000) {
      big[i] = static_cast<char>('a' + (i / 1000) % 26);
    }
    client.Send(id, big);
    EXPECT_TRUE(client.Pump([&] { return s.received.size() >= 5 + big.size(); }));
    EXPECT_EQ(s.received, "hello" + big);
    client.End(id);
    EXPECT_TRUE(client.Pump([&] { return s.closed; }));
    EXPECT_TRUE(s.remote_ended);
    EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
    EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
  }
};

TEST_F(ProxyH2WebSocketTest, ExtendedConnectBecomesAnUpgradeAndBytesFlowBothWays) {
  ASSERT_NE(EchoPort(), 0);
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  EXPECT_EQ(client.ConnectProtocolSetting(), 1u);
  nlohmann::json request;
  int32_t id = OpenEcho(client, &request);
  auto& s = client.stream(id);
  EXPECT_EQ(s.headers.count("sec-websocket-accept"), 0u);  // HTTP/1.1's, not the client's
  EXPECT_EQ(s.headers.count("upgrade"), 0u);
  // The backend saw an HTTP/1.1 WebSocket handshake with a key of the proxy's own.
  EXPECT_EQ(request["method"], "GET");
  EXPECT_EQ(request["path"], "/chat?room=1");
  EXPECT_EQ(request["host"], "ws.example");
  EXPECT_EQ(request["headers"]["Upgrade"][0], "websocket");
  EXPECT_EQ(request["headers"]["Sec-Websocket-Version"][0], "13");
  EXPECT_EQ(request["headers"]["Origin"][0], "http://ws.example");
  ASSERT_TRUE(request["headers"].contains("Sec-Websocket-Key"));
  EXPECT_EQ(request["headers"]["Sec-Websocket-Key"][0].get<std::string>().size(), 24u);
  EXPECT_EQ(Stats().upgrades_total(), 1u);
  EXPECT_EQ(Stats().upgrades_open(), 1u);

  EchoBothWaysThenEnd(client, id);
}

// Bytes the client sends right behind its CONNECT, before the 200, are not lost.
TEST_F(ProxyH2WebSocketTest, DataBeforeThe200IsRelayed) {
  ASSERT_NE(EchoPort(), 0);
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  int32_t id = client.Connect("websocket", "/early");
  client.Send(id, "early");
  auto& s = client.stream(id);
  EXPECT_TRUE(client.Pump([&] { return s.received.ends_with("\nearly") || s.closed; }))
      << s.received;
  EXPECT_EQ(s.status, 200);
}

TEST_F(ProxyH2WebSocketTest, TheBackendClosingEndsTheStreamAfterItsBytes) {
  ClosingBackend backend("bye");
  ApplyBackend(backend.port());
  H2TunnelClient client(port_);
  int32_t id = client.Connect("websocket", "/");
  auto& s = client.stream(id);
  EXPECT_TRUE(client.Pump([&] { return s.remote_ended; }));
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.received, "bye");
  client.End(id);
  EXPECT_TRUE(client.Pump([&] { return s.closed; }));
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
}

TEST_F(ProxyH2WebSocketTest, AClientResetClosesTheTunnel) {
  ASSERT_NE(EchoPort(), 0);
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  nlohmann::json request;
  int32_t id = OpenEcho(client, &request);
  EXPECT_EQ(Stats().upgrades_open(), 1u);
  client.Reset(id);
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).closed; }));
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
  // The connection still serves: another tunnel on it works.
  int32_t again = OpenEcho(client, &request);
  client.Send(again, "still");
  EXPECT_TRUE(client.Pump([&] { return client.stream(again).received == "still"; }));
}

// The tunnel keeps its backend across a config push that sends new streams elsewhere.
TEST_F(ProxyH2WebSocketTest, TunnelSurvivesAConfigPush) {
  ASSERT_NE(EchoPort(), 0);
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  nlohmann::json request;
  int32_t id = OpenEcho(client, &request);
  TestUpstream other("other");
  ApplyBackend(other.port());  // new extended CONNECTs go to `other` (which fails the accept)
  int32_t refused = client.Connect("websocket", "/chat");
  EXPECT_TRUE(client.Pump([&] { return client.stream(refused).status != 0; }));
  EXPECT_EQ(client.stream(refused).status, 502);
  client.Send(id, "after the push");
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).received == "after the push"; }));
  EXPECT_EQ(Stats().upgrades_open(), 1u);
}

TEST_F(ProxyH2WebSocketTest, OtherProtocolsAreRefused) {
  TestUpstream up("up");
  ApplyBackend(up.port());
  H2TunnelClient client(port_);
  int32_t id = client.Connect("connect-udp", "/.well-known/masque/udp/h/53/");
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).status != 0; }));
  EXPECT_EQ(client.stream(id).status, 501);
  EXPECT_EQ(up.request_count(), 0u);
  EXPECT_EQ(Stats().upgrades_total(), 0u);
}

// TestUpstream answers 101 without Sec-WebSocket-Accept: not the answer to the proxy's key.
TEST_F(ProxyH2WebSocketTest, A101WithoutTheRightAcceptIsABadGateway) {
  TestUpstream up("up");
  ApplyBackend(up.port());
  H2TunnelClient client(port_);
  int32_t id = client.Connect("websocket", "/chat");
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).status != 0; }));
  EXPECT_EQ(client.stream(id).status, 502);
  EXPECT_EQ(Stats().upgrades_total(), 0u);
}

// An h2c cluster carries the WebSocket as an extended CONNECT of its own (RFC 8441 both ways):
// the backend sees CONNECT with :protocol websocket and no key, its 200 opens the tunnel.
TEST_F(ProxyH2WebSocketTest, ToAnH2cClusterTheStreamBecomesAnExtendedConnectUpstream) {
  ASSERT_NE(H2cEchoPort(), 0);
  ApplyBackend(H2cEchoPort(), api::H2C);
  H2TunnelClient client(port_);
  nlohmann::json request;
  int32_t id = OpenEcho(client, &request);
  auto& s = client.stream(id);
  EXPECT_EQ(request["method"], "CONNECT");
  EXPECT_EQ(request["proto"], "HTTP/2.0");
  EXPECT_EQ(request["path"], "/chat?room=1");
  EXPECT_EQ(request["host"], "ws.example");
  EXPECT_EQ(request["headers"]["Sec-Websocket-Version"][0], "13");
  EXPECT_EQ(request["headers"]["Origin"][0], "http://ws.example");
  EXPECT_FALSE(request["headers"].contains("Sec-Websocket-Key"));
  EXPECT_FALSE(request["headers"].contains("Upgrade"));
  EXPECT_EQ(s.headers.count("sec-websocket-accept"), 0u);
  EXPECT_EQ(Stats().upgrades_open(), 1u);

  EchoBothWaysThenEnd(client, id);
}

// An HTTP/1.1 Upgrade to an h2c cluster: the extended CONNECT's 200 becomes the client's 101
// with the Sec-WebSocket-Accept of the client's own key (RFC 6455 4.2.2).
TEST_F(ProxyH2WebSocketTest, AnHttp1UpgradeToAnH2cClusterGetsA101) {
  ASSERT_NE(H2cEchoPort(), 0);
  ApplyBackend(H2cEchoPort(), api::H2C);
  testing::Client client("127.0.0.1", port_);
  client.Send(std::string(kHttp1Upgrade) + "early");
  std::string data;
  ASSERT_TRUE(testing::ReadRaw(client.fd(), data, 0)) << data;
  EXPECT_EQ(data.rfind("HTTP/1.1 101", 0), 0u) << data;
  EXPECT_NE(data.find("Upgrade: websocket\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("Connection: Upgrade\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos)
      << data;
  std::string after = data.substr(data.find("\r\n\r\n") + 4);
  nlohmann::json request = nlohmann::json::parse(ReadLine(client.fd(), after), nullptr, false);
  ASSERT_TRUE(testing::ReadRaw(client.fd(), after, 5));
  EXPECT_EQ(request["method"], "CONNECT");
  EXPECT_EQ(request["proto"], "HTTP/2.0");
  EXPECT_EQ(request["path"], "/chat");
  EXPECT_FALSE(request["headers"].contains("Sec-Websocket-Key"));
  EXPECT_EQ(after, "early");  // sent behind the request head
  std::string big(300 * 1024, 'x');
  client.Send(big);
  std::string back;
  EXPECT_TRUE(testing::ReadRaw(client.fd(), back, big.size()));
  EXPECT_EQ(back, big);
  EXPECT_EQ(Stats().upgrades_open(), 1u);
  shutdown(client.fd(), SHUT_WR);  // the half-close becomes END_STREAM, the backend's ends it
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
}

// The upgraded stream keeps its backend across a config push that sends new requests
// elsewhere, as an HTTP/1.1 tunnel does.
TEST_F(ProxyH2WebSocketTest, AnH2cTunnelSurvivesAConfigPush) {
  ASSERT_NE(H2cEchoPort(), 0);
  ApplyBackend(H2cEchoPort(), api::H2C);
  H2TunnelClient h2(port_);
  nlohmann::json request;
  int32_t id = OpenEcho(h2, &request);
  testing::Client h1("127.0.0.1", port_);
  h1.Send(kHttp1Upgrade);
  std::string head;
  ASSERT_TRUE(testing::ReadRaw(h1.fd(), head, 0)) << head;
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  std::string rest = head.substr(head.find("\r\n\r\n") + 4);
  ASSERT_NE(ReadLine(h1.fd(), rest), "");  // the echo's JSON

  TestUpstream other("other");
  ApplyBackend(other.port());  // every new request goes to `other` now
  EXPECT_EQ(testing::Get(port_, "h", "/x").headers["x-upstream"], "other");
  h2.Send(id, "after the push");
  EXPECT_TRUE(h2.Pump([&] { return h2.stream(id).received == "after the push"; }));
  h1.Send("after the push");
  EXPECT_TRUE(testing::ReadRaw(h1.fd(), rest, 14));
  EXPECT_EQ(rest, "after the push");
  EXPECT_EQ(Stats().upgrades_open(), 2u);
  EXPECT_EQ(other.raw().find("after the push"), std::string::npos);
}

// RFC 8441 3: no extended CONNECT to a backend whose SETTINGS did not enable it. Nothing is
// sent; the client gets 502 (Bad Gateway: the backend cannot give the answer the client asked
// for, and it is not overloaded), for an HTTP/2 client and an HTTP/1.1 one alike.
TEST_F(ProxyH2WebSocketTest, AnH2cBackendWithoutExtendedConnectGivesABadGateway) {
  testing::H2Backend backend("plain");  // an nghttp2 server that does not announce it
  std::filesystem::path log = OpenAccessLog();
  ApplyBackend(backend.port(), api::H2C);
  H2TunnelClient client(port_);
  int32_t id = client.Connect("websocket", "/chat");
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).status != 0; }));
  EXPECT_EQ(client.stream(id).status, 502);
  testing::Client h1("127.0.0.1", port_);
  h1.Send(kHttp1Upgrade);
  EXPECT_EQ(h1.Read().status, 502);
  EXPECT_EQ(backend.headers_seen(), 0);
  EXPECT_EQ(Stats().upgrades_total(), 0u);
  // The endpoint is not held against: a plain request to it is served.
  EXPECT_EQ(testing::Get(port_, "h", "/x").status, 200);
  EXPECT_EQ(backend.served(), 1);
  // Refused before anything went (not a stream the backend reset), and said why.
  auto read_lines = [&] {
    std::vector<nlohmann::json> lines;
    for (const char* protocol : {"HTTP/2", "HTTP/1.1"}) {
      for (auto& line : LogLines(log, protocol)) lines.push_back(line);
    }
    return lines;
  };
  // (A line is written once its answer went: the last one may still be on its way.)
  EXPECT_TRUE(testing::WaitFor([&] { return read_lines().size() == 3; }));
  std::vector<nlohmann::json> lines = read_lines();
  CloseAccessLog(log);
  ASSERT_EQ(lines.size(), 3u);
  for (int i : {0, 1}) {
    EXPECT_EQ(lines[i]["status"], 502);
    EXPECT_NE(lines[i]["error"].get<std::string>().find("SETTINGS_ENABLE_CONNECT_PROTOCOL"),
              std::string::npos)
        << lines[i].dump();
  }
}

TEST_F(ProxyH2WebSocketTest, IdleTimeoutResetsTheStream) {
  ASSERT_NE(EchoPort(), 0);
  StartServer(1, 15s, /*idle_timeout=*/300ms);
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  nlohmann::json request;
  auto start = std::chrono::steady_clock::now();
  int32_t id = OpenEcho(client, &request);
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).closed; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(client.stream(id).close_code, NGHTTP2_CANCEL);
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
}

// Each tunnel ends with an access log line of its own: the bytes each way, and why it ended
// (nothing for an orderly close, the HTTP/2 error code for a reset).
TEST_F(ProxyH2WebSocketTest, EachTunnelEndsWithAnAccessLogLine) {
  ASSERT_NE(EchoPort(), 0);
  std::filesystem::path log = OpenAccessLog();
  ApplyBackend(EchoPort());
  H2TunnelClient client(port_);
  nlohmann::json request;
  int32_t id = OpenEcho(client, &request);
  auto& s = client.stream(id);
  client.Send(id, "hello");
  EXPECT_TRUE(client.Pump([&] { return s.received == "hello"; })) << s.received;
  client.End(id);
  EXPECT_TRUE(client.Pump([&] { return s.closed; }));
  int32_t reset = OpenEcho(client, &request);
  client.Reset(reset);
  EXPECT_TRUE(client.Pump([&] { return client.stream(reset).closed; }));

  EXPECT_TRUE(testing::WaitFor([&] { return LogLines(log, "HTTP/2 WebSocket").size() == 2; }));
  std::vector<nlohmann::json> lines = LogLines(log, "HTTP/2 WebSocket");
  CloseAccessLog(log);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["method"], "CONNECT");
  EXPECT_EQ(lines[0]["path"], "/chat?room=1");
  EXPECT_EQ(lines[0]["authority"], "ws.example");
  EXPECT_EQ(lines[0]["route"], "test/ws");
  EXPECT_EQ(lines[0]["cluster"], "ns/ws:80");
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_EQ(lines[0]["endpoint"], "127.0.0.1:" + std::to_string(EchoPort()));
  EXPECT_EQ(lines[0]["bytes_in"], 5);
  // The echo's JSON line about the handshake, then "hello" back.
  EXPECT_GT(lines[0]["bytes_out"].get<int>(), 5);
  EXPECT_FALSE(lines[0].contains("error")) << lines[0].dump();
  EXPECT_EQ(lines[1]["bytes_in"], 0);
  EXPECT_EQ(lines[1]["error"], "stream reset (CANCEL)") << lines[1].dump();
}

}  // namespace
}  // namespace xgate::proxy
