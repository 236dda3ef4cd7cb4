#include "tools/h2load/h2_load_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace xgate::h2load {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxErrors = 8;

class Load;

// One HTTP/2 connection: its nghttp2 session, the streams in flight, and what the server's
// GOAWAY said.
class Connection {
 public:
  Connection(Load& load, int fd, SSL* ssl);
  ~Connection();
  int fd() const { return fd_; }
  bool wants_output() const { return !out_.empty(); }
  bool draining() const { return goaway_; }
  size_t in_flight() const { return streams_.size(); }
  // False when the connection is over (closed, lost or done after a GOAWAY).
  bool OnEvents(short revents);
  bool Submit();
  bool Flush();
  // The connection is given up: what was in flight is retried or failed.
  void Lost(const std::string& why);

 private:
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);
  void StreamClosed(int32_t stream_id, uint32_t error_code);
  bool Unprocessed(int32_t stream_id) const { return goaway_ && stream_id > last_stream_id_; }
  bool ReadAvailable();

  Load& load_;
  int fd_;
  SSL* ssl_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, int> streams_;  // stream id -> :status (0 before the head)
  bool goaway_ = false;
  int32_t last_stream_id_ = std::numeric_limits<int32_t>::max();
  std::string out_;
};

class Load {
 public:
  explicit Load(const LoadOptions& options) : options_(options) {}
  ~Load() {
    connections_.clear();
    if (ctx_) SSL_CTX_free(ctx_);
  }
  absl::StatusOr<LoadResult> Run();

  const LoadOptions& options() const { return options_; }
  LoadResult& result() { return result_; }
  bool issuing() const { return Clock::now() < stop_issuing_; }
  // A request to send: a retried one first, then a new one while the run lasts.
  bool TakeRequest() {
    if (owed_ > 0) {
      --owed_;
      return true;
    }
    return issuing();
  }
  void GiveBack() { ++owed_; }
  void Retry() {
    ++result_.retried;
    ++owed_;
  }
  void Error(std::string why) {
    if (result_.errors.size() < kMaxErrors) result_.errors.push_back(std::move(why));
  }

 private:
  absl::Status Prepare();
  std::unique_ptr<Connection> Connect();

  LoadOptions options_;
  LoadResult result_;
  SSL_CTX* ctx_ = nullptr;
  sockaddr_storage address_{};
  socklen_t address_length_ = 0;
  uint64_t owed_ = 0;  // refused requests not sent again yet
  Clock::time_point stop_issuing_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

Connection::Connection(Load& load, int fd, SSL* ssl) : load_(load), fd_(fd), ssl_(ssl) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Connection::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Connection::OnFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Connection::OnStreamClose);
  nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
}

Connection::~Connection() {
  nghttp2_session_del(session_);
  if (ssl_) SSL_free(ssl_);
  close(fd_);
}

int Connection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                         void* user_data) {
  auto* self = static_cast<Connection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) return 0;
  std::string_view field(reinterpret_cast<const char*>(name), namelen);
  auto it = self->streams_.find(frame->hd.stream_id);
  if (field == ":status" && it != self->streams_.end()) {
    it->second = std::atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
  }
  return 0;
}

int Connection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<Connection*>(user_data);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    ++self->load_.result().goaways;
    self->goaway_ = true;
    // A graceful shutdown sends two: the last-stream-id only goes down.
    self->last_stream_id_ = std::min(self->last_stream_id_, frame->goaway.last_stream_id);
  }
  return 0;
}

int Connection::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                              void* user_data) {
  static_cast<Connection*>(user_data)->StreamClosed(stream_id, error_code);
  return 0;
}

void Connection::StreamClosed(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  int status = it->second;
  streams_.erase(it);
  LoadResult& result = load_.result();
  if (error_code == NGHTTP2_NO_ERROR && status != 0) {
    ++result.completed;
    if (status >= 200 && status < 300) {
      ++result.ok_2xx;
    } else {
      ++result.non_2xx;
      load_.Error(absl::StrCat("stream ", stream_id, ": status ", status));
    }
    return;
  }
  // RFC 9113 8.7: refused, or above the last-stream-id of a GOAWAY: never processed.
  if (error_code == NGHTTP2_REFUSED_STREAM || Unprocessed(stream_id)) {
    load_.Retry();
    return;
  }
  ++result.failed;
  load_.Error(absl::StrCat("stream ", stream_id, ": reset, ", nghttp2_http2_strerror(error_code),
                           goaway_ ? " (after a GOAWAY with last-stream-id " : "",
                           goaway_ ? absl::StrCat(last_stream_id_, ")") : ""));
}

void Connection::Lost(const std::string& why) {
  LoadResult& result = load_.result();
  for (const auto& [stream_id, status] : streams_) {
    if (Unprocessed(stream_id)) {
      load_.Retry();
      continue;
    }
    ++result.failed;
    load_.Error(absl::StrCat("stream ", stream_id, ": ", why,
                             goaway_ ? absl::StrCat(" (last-stream-id ", last_stream_id_, ")")
                                     : std::string(" (no GOAWAY)")));
  }
  streams_.clear();
}

bool Connection::Submit() {
  const LoadOptions& options = load_.options();
  std::string scheme = options.tls ? "https" : "http";
  auto pair = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  while (!goaway_ && streams_.size() < static_cast<size_t>(options.streams) &&
         load_.TakeRequest()) {
    nghttp2_nv headers[] = {pair(":method", "GET"), pair(":scheme", scheme),
                            pair(":authority", options.authority), pair(":path", options.path)};
    int32_t stream_id = nghttp2_submit_request(session_, nullptr, headers, 4, nullptr, nullptr);
    if (stream_id < 0) {
      load_.GiveBack();
      return false;
    }
    streams_.emplace(stream_id, 0);
  }
  return true;
}

// Serialises what nghttp2 has to send and writes what the socket takes.
bool Connection::Flush() {
  while (out_.size() < (1 << 16)) {
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  while (!out_.empty()) {
    ssize_t n;
    if (ssl_) {
      ERR_clear_error();
      n = SSL_write(ssl_, out_.data(), static_cast<int>(out_.size()));
      if (n <= 0) {
        int error = SSL_get_error(ssl_, static_cast<int>(n));
        return error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ;
      }
    } else {
      n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EINTR;
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  return true;
}

bool Connection::ReadAvailable() {
  char buffer[16 * 1024];
  while (true) {
    ssize_t n;
    if (ssl_) {
      ERR_clear_error();
      n = SSL_read(ssl_, buffer, sizeof(buffer));
      if (n <= 0) {
        int error = SSL_get_error(ssl_, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return true;
        Lost(error == SSL_ERROR_ZERO_RETURN ? "connection closed" : "connection lost");
        return false;
      }
    } else {
      n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (n <= 0) {
        Lost(n == 0 ? "connection closed" : "connection lost");
        return false;
      }
    }
    if (nghttp2_session_mem_recv(session_, reinterpret_cast<uint8_t*>(buffer),
                                 static_cast<size_t>(n)) < 0) {
      Lost("HTTP/2 protocol error");
      return false;
    }
  }
}

bool Connection::OnEvents(short revents) {
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && !ReadAvailable()) return false;
  if (!goaway_ && !Submit()) {
    Lost("cannot submit");
    return false;
  }
  if (!Flush()) {
    Lost("write failed");
    return false;
  }
  if (goaway_ && streams_.empty()) return false;  // done: a new connection takes over
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    Lost("session ended");
    return false;
  }
  return true;
}

absl::Status Load::Prepare() {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address_);
  if (inet_pton(AF_INET, options_.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.port);
    address_length_ = sizeof(*v4);
  } else if (inet_pton(AF_INET6, options_.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.port);
    address_length_ = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError("not an IP address: " + options_.address);
  }
  if (!options_.tls) return absl::OkStatus();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn));
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return absl::OkStatus();
}

// Connects and handshakes blocking (5 s at most each), then goes non-blocking.
std::unique_ptr<Connection> Load::Connect() {
  auto failed = [this](int fd, SSL* ssl, std::string why) -> std::unique_ptr<Connection> {
    ++result_.connect_errors;
    Error(std::move(why));
    if (ssl) SSL_free(ssl);
    close(fd);
    return nullptr;
  };
  int fd = socket(address_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(fd, nullptr, absl::StrCat("socket: ", strerror(errno)));
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address_), address_length_) != 0) {
    return failed(fd, nullptr, absl::StrCat("connect: ", strerror(errno)));
  }
  SSL* ssl = nullptr;
  if (ctx_) {
    ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, options_.authority.c_str());
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) return failed(fd, ssl, "TLS handshake failed");
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
    if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != "h2") {
      return failed(fd, ssl, "the server did not select h2 (ALPN)");
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  ++result_.connections;
  return std::make_unique<Connection>(*this, fd, ssl);
}

absl::StatusOr<LoadResult> Load::Run() {
  if (absl::Status status = Prepare(); !status.ok()) return status;
  Clock::time_point start = Clock::now();
  stop_issuing_ = start + options_.duration;
  Clock::time_point drain_end = stop_issuing_ + options_.drain;
  Clock::time_point next_connect{};
  while (true) {
    Clock::time_point now = Clock::now();
    size_t in_flight = 0;
    for (auto& connection : connections_) {
      // A connection draining after a GOAWAY keeps its slot until its streams are done, and
      // one more takes its place meanwhile.
      if (connection) in_flight += connection->in_flight();
    }
    bool work_left = issuing() || owed_ > 0 || in_flight > 0;
    if (!work_left || now >= drain_end) break;
    size_t open = 0;
    for (auto& connection : connections_) {
      if (connection && !connection->draining()) ++open;
    }
    if (open < static_cast<size_t>(options_.connections) && (issuing() || owed_ > 0) &&
        now >= next_connect) {
      if (auto connection = Connect()) {
        connection->OnEvents(0);
        connections_.push_back(std::move(connection));
      } else {
        next_connect = now + std::chrono::milliseconds(100);
      }
    }
    std::vector<pollfd> fds;
    std::vector<Connection*> polled;
    for (auto& connection : connections_) {
      if (!connection) continue;
      fds.push_back({connection->fd(),
                     static_cast<short>(POLLIN | (connection->wants_output() ? POLLOUT : 0)), 0});
      polled.push_back(connection.get());
    }
    poll(fds.data(), fds.size(), 20);
    for (size_t i = 0; i < polled.size(); ++i) {
      if (polled[i]->OnEvents(fds[i].revents)) continue;
      for (auto& connection : connections_) {
        if (connection.get() == polled[i]) connection.reset();
      }
    }
    std::erase(connections_, nullptr);
  }
  for (auto& connection : connections_) connection->Lost("still in flight when the run ended");
  connections_.clear();
  if (owed_ > 0) {
    result_.failed += owed_;
    Error(absl::StrCat(owed_, " refused request(s) not sent again before the run ended"));
  }
  result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result_;
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options) {
  if (options.connections < 1 || options.streams < 1) {
    return absl::InvalidArgumentError("connections and streams must be at least 1");
  }
  Load load(options);
  return load.Run();
}

}  // namespace xgate::h2load
