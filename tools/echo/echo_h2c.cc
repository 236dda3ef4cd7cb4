// xgate-echo's h2c mode: HTTP/2 with prior knowledge (RFC 9113 3.3) through an nghttp2 server
// session, one thread per connection. It answers as the HTTP/1.1 mode does ("proto" is
// "HTTP/2.0"), and also (FORMAT.md X5): returns the request body with X-Echo-Return-Body,
// sends response trailers named in X-Echo-Trailers, reports request trailers as "trailers",
// and refuses the first request carrying X-Echo-Goaway: KEY with a GOAWAY whose last stream
// id is below it, then ends the connection once the streams up to that id are answered.
// It announces SETTINGS_ENABLE_CONNECT_PROTOCOL and serves a WebSocket as RFC 8441 does: an
// extended CONNECT with :protocol websocket is answered 200 at once (its DATA the request's
// JSON and a newline), then every DATA byte received is sent back, and the client's
// END_STREAM ends the stream after them (FORMAT.md X4).
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "tools/echo/echo.h"

namespace xgate::echo {
namespace {

struct H2Request {
  Message message;
  Headers trailers;
  bool in_trailers = false;
  bool answered = false;
  absl::Time due = absl::InfinitePast();  // when to answer (the `delay` query parameter)
  // The response, kept until the stream closes: nghttp2 reads it from here.
  std::string body;
  size_t sent = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::pair<std::string, std::string>> trailer_fields;
  std::string protocol;       // an extended CONNECT's :protocol
  bool tunnel = false;        // a WebSocket: DATA is echoed until the client ends
  bool client_ended = false;  // its END_STREAM came
};

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::vector<nghttp2_nv> Nvs(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<nghttp2_nv> out;
  for (const auto& [name, value] : fields) out.push_back(Nv(name, value));
  return out;
}

class H2cConnection {
 public:
  H2cConnection(EchoServer& server, int fd, const EchoConfig& config)
      : server_(server), fd_(fd), config_(config) {}
  ~H2cConnection() {
    if (session_) nghttp2_session_del(session_);
  }
  void Serve();

 private:
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2cConnection*>(user);
    H2Request& request = self->requests_[frame->hd.stream_id];
    if (!request.message.third.empty()) request.in_trailers = true;
    request.message.third = "HTTP/2.0";
    return 0;
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2cConnection*>(user);
    H2Request& request = self->requests_[frame->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (request.in_trailers) {
      request.trailers.push_back({n, v});
    } else if (n == ":method") {
      request.message.first = v;
    } else if (n == ":path") {
      request.message.second = v;
    } else if (n == ":authority") {
      request.message.headers.push_back({"Host", v});
    } else if (n == ":protocol") {
      request.protocol = v;
    } else if (n[0] != ':') {
      request.message.headers.push_back({n, v});
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<H2cConnection*>(user);
    H2Request& request = self->requests_[id];
    if (request.tunnel) {  // echoed
      request.body.append(reinterpret_cast<const char*>(data), len);
      nghttp2_session_resume_data(self->session_, id);
    } else {
      request.message.body.append(reinterpret_cast<const char*>(data), len);
    }
    return 0;
  }
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2cConnection*>(user);
    int32_t id = frame->hd.stream_id;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      H2Request& request = self->requests_[id];
      if (request.message.first == "CONNECT" && request.protocol == "websocket") {
        self->StartTunnel(id, request);
      }
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      H2Request& request = self->requests_[id];
      if (request.tunnel) {
        request.client_ended = true;
        nghttp2_session_resume_data(self->session_, id);
      } else {
        self->Received(id);
      }
    }
    return 0;
  }
  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t, void* user) {
    static_cast<H2cConnection*>(user)->requests_.erase(id);
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* request = static_cast<H2Request*>(source->ptr);
    size_t n = std::min(length, request->body.size() - request->sent);
    std::copy_n(request->body.data() + request->sent, n, buf);
    request->sent += n;
    if (request->sent == request->body.size()) {
      if (request->tunnel) {
        request->body.clear();
        request->sent = 0;
        if (!request->client_ended)
          return n > 0 ? static_cast<ssize_t>(n) : ssize_t{NGHTTP2_ERR_DEFERRED};
      }
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!request->trailer_fields.empty()) {
        std::vector<nghttp2_nv> nva = Nvs(request->trailer_fields);
        nghttp2_submit_trailer(session, id, nva.data(), nva.size());
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
    return static_cast<ssize_t>(n);
  }

  void Received(int32_t id);
  void StartTunnel(int32_t id, H2Request& request);
  void Answer(int32_t id, H2Request& request);
  bool SendAll();

  EchoServer& server_;
  int fd_;
  const EchoConfig& config_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, H2Request> requests_;
  int32_t goaway_last_ = -1;  // the last stream id of the GOAWAY sent (-1: none)
};

void H2cConnection::Received(int32_t id) {
  H2Request& request = requests_[id];
  absl::StatusOr<absl::Duration> delay = RequestDelay(request.message.second);
  request.due = absl::Now() + (delay.ok() ? *delay : absl::ZeroDuration());
  server_.Log(request.message);
  bool found = false;
  std::string key = JoinedHeader(request.message.headers, "X-Echo-Goaway", &found);
  if (found && goaway_last_ < 0 && server_.CountAttempt("goaway:" + key) == 1) {
    goaway_last_ = 0;
    for (const auto& [other, unused] : requests_) {
      if (other < id) goaway_last_ = other;
    }
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goaway_last_, NGHTTP2_NO_ERROR, nullptr, 0);
  }
}

void H2cConnection::StartTunnel(int32_t id, H2Request& request) {
  server_.Log(request.message);
  request.tunnel = true;
  request.answered = true;
  request.body = EchoJson(request.message, config_.ns, config_.pod).dump() + "\n";
  request.fields = {{":status", "200"}};
  std::vector<nghttp2_nv> nva = Nvs(request.fields);
  nghttp2_data_provider provider{};
  provider.source.ptr = &request;
  provider.read_callback = ReadBody;
  nghttp2_submit_response(session_, id, nva.data(), nva.size(), &provider);
}

void H2cConnection::Answer(int32_t id, H2Request& request) {
  request.answered = true;
  const Message& req = request.message;
  int status = 200;
  request.fields.push_back({"content-type", "application/json"});
  bool found = false;
  std::string set = JoinedHeader(req.headers, "X-Echo-Set-Header", &found);
  if (found) {
    for (const Header& h : ParseEchoSetHeader(set)) {
      request.fields.push_back({absl::AsciiStrToLower(h.name), h.value});
    }
  }
  std::string fail_header = JoinedHeader(req.headers, "X-Echo-Fail", &found);
  std::optional<FailRequest> fail = ParseEchoFail(fail_header);
  if (found && fail) {
    int attempt = server_.CountAttempt(fail->key);
    request.fields.push_back({"x-echo-attempt", std::to_string(attempt)});
    if (attempt <= fail->count) {
      status = fail->status;
      request.body = "failing as asked\n";
    }
  }
  if (status == 200) {
    JoinedHeader(req.headers, "X-Echo-Return-Body", &found);
    if (found) {
      request.body = req.body;
      request.fields[0].second = "application/octet-stream";
    } else {
      nlohmann::json json = EchoJson(req, config_.ns, config_.pod);
      for (const Header& t : request.trailers) json["trailers"][t.name].push_back(t.value);
      request.body = json.dump();
    }
  }
  std::string trailers = JoinedHeader(req.headers, "X-Echo-Trailers", &found);
  if (found) {
    for (const Header& h : ParseEchoSetHeader(trailers)) {
      request.trailer_fields.push_back({absl::AsciiStrToLower(h.name), h.value});
    }
  }
  if (req.first == "HEAD") request.body.clear();
  request.fields.insert(request.fields.begin(), {":status", std::to_string(status)});
  if (request.trailer_fields.empty()) {
    request.fields.push_back({"content-length", std::to_string(request.body.size())});
  }
  std::vector<nghttp2_nv> nva = Nvs(request.fields);
  nghttp2_data_provider provider{};
  provider.source.ptr = &request;
  provider.read_callback = ReadBody;
  bool has_body = !request.body.empty() || !request.trailer_fields.empty();
  nghttp2_submit_response(session_, id, nva.data(), nva.size(), has_body ? &provider : nullptr);
}

bool H2cConnection::SendAll() {
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) return true;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = send(fd_, data + off, n - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      off += w;
    }
  }
}

void H2cConnection::Serve() {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnData);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_session_server_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                       {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  char buf[64 * 1024];
  absl::Time idle_until = absl::Now() + absl::Seconds(120);
  while (SendAll() && absl::Now() < idle_until) {
    if (goaway_last_ >= 0 && !nghttp2_session_want_write(session_)) {
      // Answered every stream up to the GOAWAY's last one: the connection ends.
      bool open = std::any_of(requests_.begin(), requests_.end(),
                              [&](const auto& entry) { return entry.first <= goaway_last_; });
      if (!open) break;
    }
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, request] : requests_) {
      if (!request.answered && request.due != absl::InfinitePast()) {
        next = std::min(next, request.due);
      }
    }
    int timeout_ms = 1000;
    if (next != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(
          std::clamp<int64_t>(absl::ToInt64Milliseconds(next - absl::Now()), 0, 1000));
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (nghttp2_session_mem_recv(session_, reinterpret_cast<uint8_t*>(buf), n) < 0) break;
      idle_until = absl::Now() + absl::Seconds(120);
    }
    absl::Time now = absl::Now();
    for (auto& [id, request] : requests_) {
      // Streams above a GOAWAY's last stream id are left unanswered: the client sends them
      // again elsewhere.
      if (goaway_last_ >= 0 && id > goaway_last_) continue;
      if (!request.answered && request.due != absl::InfinitePast() && request.due <= now) {
        Answer(id, request);
      }
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
  }
  shutdown(fd_, SHUT_WR);
  close(fd_);
}

}  // namespace

void EchoServer::HandleH2cConnection(int fd) {
  H2cConnection connection(*this, fd, config_);
  connection.Serve();
}

}  // namespace xgate::echo
