// WebSocket over HTTP/2 (RFC 8441) through the real proxy on loopback: an nghttp2 client speaks
// h2c with prior knowledge to the proxy's HTTP port and opens extended CONNECT streams; the
// proxy upgrades to xgate-echo's HTTP/1.1 WebSocket mode (or a test backend) and relays the
// stream's DATA both ways.
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
#include "tests/proxy/hostile.h"
#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"
#include "tools/echo/echo.h"
#include "userspace-proxy/server/h2_websocket.h"

namespace xgate::proxy {
namespace {

using testing::TestUpstream;

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

  client.Send(id, "hello");
  EXPECT_TRUE(client.Pump([&] { return s.received == "hello"; })) << s.received;
  // Past the 64 KiB stream windows both ways: flow control gives backpressure, nothing lost.
  std::string big(700 * 1024, 'w');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + (i / 1000) % 26);
  client.Send(id, big);
  EXPECT_TRUE(client.Pump([&] { return s.received.size() >= 5 + big.size(); }));
  EXPECT_EQ(s.received, "hello" + big);

  // The client ends its side: the backend sees EOF and closes, the proxy ends the stream.
  client.End(id);
  EXPECT_TRUE(client.Pump([&] { return s.closed; }));
  EXPECT_TRUE(s.remote_ended);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
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

// An h2c cluster carries no WebSocket (no extended CONNECT upstream): the backend's 200 to
// the GET must not reach the client as an open tunnel.
TEST_F(ProxyH2WebSocketTest, AnH2cBackendGivesABadGateway) {
  ASSERT_NE(H2cEchoPort(), 0);
  ApplyBackend(H2cEchoPort(), api::H2C);
  H2TunnelClient client(port_);
  int32_t id = client.Connect("websocket", "/chat");
  EXPECT_TRUE(client.Pump([&] { return client.stream(id).status != 0; }));
  EXPECT_EQ(client.stream(id).status, 502);
  EXPECT_EQ(Stats().upgrades_total(), 0u);
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
  std::filesystem::path log = std::filesystem::temp_directory_path() /
                              ("xgate-h2ws-log-" + std::to_string(getpid()) + ".log");
  std::filesystem::remove(log);
  ASSERT_TRUE(AccessLog::Open(log.string()).ok());
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

  auto tunnel_lines = [&] {
    std::vector<nlohmann::json> lines;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      auto json = nlohmann::json::parse(line);
      if (json["protocol"] == "HTTP/2 WebSocket") lines.push_back(json);
    }
    return lines;
  };
  EXPECT_TRUE(testing::WaitFor([&] { return tunnel_lines().size() == 2; }));
  std::vector<nlohmann::json> lines = tunnel_lines();
  AccessLog::Disable();
  std::filesystem::remove(log);
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
