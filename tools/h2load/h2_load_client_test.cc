// xgate-h2load's client: what it counts when a scripted h2c server misbehaves once on its first
// connection (a GOAWAY below streams in flight, a stream reset, the connection closed with
// streams open), and across a graceful restart of the in-process proxy: proxy A serves HTTP/2
// over TLS, the load runs on two connections, then A hands its listening sockets to proxy B
// and drains (GOAWAY to each connection). A correct client finishes the streams at or below
// the last-stream-id, sends those above it again on a new connection, and so sees no failure.
// The assertions are on the counts, not on timing.
#include "tools/h2load/h2_load_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/proxy/hostile.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::h2load {
namespace {

using namespace std::chrono_literals;
using proxy::Server;
using proxy::ServerOptions;
using proxy::testing::HttpAndHttpsConfig;
using proxy::testing::TestUpstream;

// What the scripted server does on its first connection once 4 requests are in (the others
// serve every request with 200).
enum class Misbehaviour { kGoawayBelowStreamsInFlight, kResetOneStream, kCloseWithStreamsOpen };

class ScriptedH2Server {
 public:
  explicit ScriptedH2Server(Misbehaviour misbehaviour) : misbehaviour_(misbehaviour) {
    listen_fd_ = proxy::testing::ListenLoopback(&port_);
    acceptor_ = std::thread([this] {
      for (int n = 0;; ++n) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::lock_guard lock(mutex_);
        connections_.emplace_back([this, fd, n] { Serve(fd, n == 0); });
      }
    });
  }
  ~ScriptedH2Server() {
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    for (std::thread& connection : connections_) connection.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  struct Session {
    nghttp2_session* session = nullptr;
    std::vector<int32_t> requests;  // complete, not answered yet
  };
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      static_cast<Session*>(user_data)->requests.push_back(frame->hd.stream_id);
    }
    return 0;
  }
  static bool Flush(int fd, nghttp2_session* session) {
    const uint8_t* data;
    for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;) {
      if (send(fd, data, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return false;
    }
    return true;
  }
  // Answers the client until it closes; on the first connection misbehaves once.
  void Serve(int fd, bool misbehave) {
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Session state;
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
    nghttp2_session_server_new(&state.session, callbacks, &state);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(state.session, NGHTTP2_FLAG_NONE, nullptr, 0);
    const nghttp2_nv ok[] = {{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                              const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("200")), 7, 3,
                              NGHTTP2_NV_FLAG_NONE}};
    bool over = false;
    while (!over) {
      uint8_t buffer[16 * 1024];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0 || nghttp2_session_mem_recv(state.session, buffer, static_cast<size_t>(n)) < 0) {
        break;
      }
      int32_t answer_up_to = std::numeric_limits<int32_t>::max();
      if (misbehave && state.requests.size() >= 4) {
        misbehave = false;
        switch (misbehaviour_) {
          case Misbehaviour::kGoawayBelowStreamsInFlight:
            answer_up_to = state.requests[1];  // the others stay unanswered, never processed
            nghttp2_submit_goaway(state.session, NGHTTP2_FLAG_NONE, answer_up_to, NGHTTP2_NO_ERROR,
                                  nullptr, 0);
            over = true;
            break;
          case Misbehaviour::kResetOneStream:
            nghttp2_submit_rst_stream(state.session, NGHTTP2_FLAG_NONE, state.requests[0],
                                      NGHTTP2_INTERNAL_ERROR);
            state.requests.erase(state.requests.begin());
            break;
          case Misbehaviour::kCloseWithStreamsOpen:
            state.requests.clear();
            over = true;
            break;
        }
      }
      for (int32_t stream_id : state.requests) {
        if (stream_id <= answer_up_to) {
          nghttp2_submit_response(state.session, stream_id, ok, 1, nullptr);
        }
      }
      state.requests.clear();
      if (!Flush(fd, state.session)) break;
    }
    if (misbehaviour_ == Misbehaviour::kGoawayBelowStreamsInFlight) {
      // A graceful close: closing with unread bytes would reset the connection, and the reset
      // could overtake the GOAWAY.
      shutdown(fd, SHUT_WR);
      for (char buffer[4096]; recv(fd, buffer, sizeof(buffer), 0) > 0;) {
      }
    }
    nghttp2_session_del(state.session);
    close(fd);
  }

  Misbehaviour misbehaviour_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

LoadResult RunAgainst(const ScriptedH2Server& server) {
  LoadOptions options;
  options.address = "127.0.0.1";
  options.port = server.port();
  options.authority = "scripted";
  options.tls = false;
  options.connections = 1;
  options.streams = 8;
  options.duration = 1s;
  absl::StatusOr<LoadResult> result = RunLoad(options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : LoadResult{};
}

TEST(H2LoadClientTest, StreamsAboveTheLastStreamIdAreSentAgainOnANewConnection) {
  ScriptedH2Server server(Misbehaviour::kGoawayBelowStreamsInFlight);
  LoadResult result = RunAgainst(server);
  for (const std::string& error : result.errors) ADD_FAILURE() << error;
  EXPECT_EQ(result.failed, 0u);
  EXPECT_GE(result.retried, 2u);  // 4 requests in at the GOAWAY, 2 above its last-stream-id
  EXPECT_EQ(result.goaways, 1u);
  EXPECT_GE(result.connections, 2u);
  EXPECT_GT(result.completed, 0u);
  EXPECT_EQ(result.ok_2xx, result.completed);
}

TEST(H2LoadClientTest, AResetStreamIsAFailure) {
  ScriptedH2Server server(Misbehaviour::kResetOneStream);
  LoadResult result = RunAgainst(server);
  EXPECT_EQ(result.failed, 1u);
  EXPECT_EQ(result.retried, 0u);
  EXPECT_GT(result.completed, 0u);
  ASSERT_FALSE(result.errors.empty());
  EXPECT_NE(result.errors[0].find("reset"), std::string::npos) << result.errors[0];
}

TEST(H2LoadClientTest, StreamsLostWithTheConnectionWithoutGoawayAreFailures) {
  ScriptedH2Server server(Misbehaviour::kCloseWithStreamsOpen);
  LoadResult result = RunAgainst(server);
  EXPECT_GE(result.failed, 4u);  // the 4 requests the server had, at least
  EXPECT_EQ(result.retried, 0u);
  EXPECT_GE(result.connections, 2u);  // and the load went on on a new one
  EXPECT_GT(result.completed, 0u);
}

std::unique_ptr<Server> StartProxy(const api::L7Config& config,
                                   std::vector<proxy::HandedGroup> inherited = {}) {
  ServerOptions options;
  options.workers = 2;
  auto server = std::make_unique<Server>(options);
  if (!inherited.empty()) server->InheritListeners(std::move(inherited));
  server->Start();
  EXPECT_TRUE(server->Apply(config).ok());
  EXPECT_TRUE(server->WaitApplied(config.generation(), 5s));
  return server;
}

TEST(H2LoadClientTest, StreamsSurviveAGracefulProxyRestart) {
  signal(SIGPIPE, SIG_IGN);
  proxy::AccessLog::Disable();
  TestUpstream upstream("up");
  uint16_t http_port = proxy::testing::FreePort();
  uint16_t https_port = proxy::testing::FreePort();
  api::L7Config config = HttpAndHttpsConfig(http_port, https_port, upstream);
  std::unique_ptr<Server> old_proxy = StartProxy(config);

  LoadOptions options;
  options.address = "127.0.0.1";
  options.port = https_port;
  options.authority = proxy::testing::kH2Sni;
  options.connections = 2;
  options.streams = 8;
  options.duration = 4s;
  auto load = std::async(std::launch::async, [&] { return RunLoad(options); });

  ASSERT_TRUE(proxy::testing::WaitFor([&] { return upstream.request_count() >= 100; }));
  std::unique_ptr<Server> new_proxy = StartProxy(config, old_proxy->ReleaseListeners());
  old_proxy->Drain();

  absl::StatusOr<LoadResult> result = load.get();
  ASSERT_TRUE(result.ok()) << result.status();
  for (const std::string& error : result->errors) ADD_FAILURE() << error;
  EXPECT_EQ(result->failed, 0u);
  EXPECT_EQ(result->connect_errors, 0u);
  EXPECT_GT(result->completed, 100u);
  EXPECT_EQ(result->ok_2xx, result->completed);
  // Each old connection got the drain's GOAWAYs and was replaced by one to the new proxy.
  EXPECT_GE(result->goaways, 2u);
  EXPECT_GE(result->connections, 4u);
  EXPECT_GT(new_proxy->Stats().requests_size(), 0);
  std::cout << "h2 load across the restart: " << result->completed << " requests, "
            << result->retried << " retried after GOAWAY/REFUSED_STREAM, " << result->goaways
            << " GOAWAYs, " << result->connections << " connections\n";
  old_proxy->Stop();
}

}  // namespace
}  // namespace xgate::h2load
