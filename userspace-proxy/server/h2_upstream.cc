#include "userspace-proxy/server/h2_upstream.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "spdlog/spdlog.h"
#include "userspace-proxy/server/h2_fields.h"

namespace xgate::proxy {
namespace {

// Before the peer's SETTINGS arrive, streams per session are held to this (RFC 9113 6.5.2
// recommends a peer allow at least 100).
constexpr uint32_t kInitialStreamLimit = 100;
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 16 << 20;

}  // namespace

// ---- H2UpstreamStream

void H2UpstreamStream::SendData(std::string_view bytes) {
  if (bytes.empty() || body_done_) return;
  if (body_.empty()) {
    waiting_since_ = Clock::now();
    session_.WatchStall();
  }
  body_.Append(bytes);
  if (deferred_ && id_ > 0) {
    deferred_ = false;
    nghttp2_session_resume_data(session_.session_, id_);
  }
  session_.ScheduleFlush();
}

void H2UpstreamStream::EndRequest(std::vector<http::Header> trailers) {
  if (body_done_) return;
  body_done_ = true;
  trailers_out_ = std::move(trailers);
  if (deferred_ && id_ > 0) {
    deferred_ = false;
    nghttp2_session_resume_data(session_.session_, id_);
  }
  session_.ScheduleFlush();
}

void H2UpstreamStream::ResumeResponse() {
  paused_ = false;
  if (unconsumed_ > 0 && id_ > 0) {
    nghttp2_session_consume(session_.session_, id_, unconsumed_);
    unconsumed_ = 0;
    session_.ScheduleFlush();
  }
}

void H2UpstreamStream::Cancel() {
  client_ = nullptr;
  if (session_.closed_ || id_ <= 0) return;  // (a waiting extended CONNECT is never sent)
  // A stream still open at the peer is reset; its object goes when nghttp2 closes it.
  if (!ended_ || !body_done_ || !body_.empty()) {
    nghttp2_submit_rst_stream(session_.session_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
  }
  if (unconsumed_ > 0) {
    nghttp2_session_consume_connection(session_.session_, unconsumed_);
    unconsumed_ = 0;
  }
  session_.ScheduleFlush();
}

UpstreamConnection& H2UpstreamStream::connection() { return session_.connection(); }
const std::string& H2UpstreamStream::endpoint() { return session_.connection().endpoint(); }

ssize_t H2UpstreamStream::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                   size_t length, uint32_t* flags, nghttp2_data_source* source,
                                   void*) {
  auto* stream = static_cast<H2UpstreamStream*>(source->ptr);
  size_t n = std::min(length, stream->body_.size());
  if (n > 0) {
    size_t before = stream->body_.size();
    std::copy_n(stream->body_.view().data(), n, buf);
    stream->body_.Consume(n);
    size_t high = stream->session_.pool_.upstreams().high_water();
    // Bytes left behind wait from now (the clock is read only then).
    if (!stream->body_.empty()) stream->waiting_since_ = Clock::now();
    if (before >= high && stream->body_.size() < high && stream->client_) {
      stream->client_->OnH2RequestDrained(*stream);
    }
  }
  if (!stream->body_.empty()) return static_cast<ssize_t>(n);
  if (!stream->body_done_) {
    if (n > 0) return static_cast<ssize_t>(n);
    stream->deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (!stream->trailers_out_.empty()) {
    // The request's HEADERS went out before its DATA: the stream's block is free again.
    H2HeaderBlock& block = stream->block_;
    size_t bytes = 0;
    for (const auto& trailer : stream->trailers_out_) {
      bytes += trailer.name.size() + trailer.value.size();
    }
    block.Start(bytes);
    for (const auto& trailer : stream->trailers_out_) block.Add(trailer.name, trailer.value);
    if (nghttp2_submit_trailer(session, stream_id, block.data(), block.size()) == 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  return static_cast<ssize_t>(n);
}

// ---- H2Pool

H2Pool::~H2Pool() {
  shutting_down_ = true;
  auto all = std::move(sessions_);
  sessions_.clear();
  for (auto& [endpoint, list] : all) {
    for (auto& session : list) session->Close();
  }
}

H2UpstreamStream* H2Pool::Open(std::string_view cluster_name, const ClusterEndpoints& cluster,
                               std::span<const std::string> tried, const H2RequestStart& request,
                               H2StreamClient* client, std::string* error, bool skip_ejected,
                               int preferred) {
  if (shutting_down_) {
    *error = "worker stopping";
    return nullptr;
  }
  int index = pool_.PickEndpoint(cluster_name, cluster, tried, skip_ejected, error, preferred);
  if (index < 0) return nullptr;
  // By pool key, not endpoint: a session made with other TLS settings (another CA, no client
  // certificate or another one) to the same endpoint is never shared.
  auto& list = sessions_[cluster.PoolKey(index)];
  H2Session* least = nullptr;
  size_t open = 0;
  for (auto& session : list) {
    if (session->closing()) continue;
    ++open;
    if (session->HasRoom()) return session->Submit(request, client);
    if (!least || session->active_streams() < least->active_streams()) least = session.get();
  }
  if (open >= kMaxSessionsPerEndpoint && least) return least->Submit(request, client);
  auto session = std::make_unique<H2Session>(*this);
  UpstreamConnection* connection =
      pool_.Connect(cluster_name, cluster, index, session.get(), error);
  if (connection == nullptr) {
    if (least) return least->Submit(request, client);
    return nullptr;
  }
  session->Start(connection);
  list.push_back(std::move(session));
  return list.back()->Submit(request, client);
}

void H2Pool::Remove(H2Session* session) {
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    auto& list = it->second;
    auto found = std::find_if(list.begin(), list.end(),
                              [session](const auto& owned) { return owned.get() == session; });
    if (found == list.end()) continue;
    // Destroy after this round: the caller may be inside the session's methods.
    pool_.loop().Defer([owned = std::shared_ptr<H2Session>(std::move(*found))] {});
    list.erase(found);
    if (list.empty()) sessions_.erase(it);
    return;
  }
}

// ---- H2Session

void H2Session::Start(UpstreamConnection* connection) {
  connection_ = connection;
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSend);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, OnFrameNotSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_option* option;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);  // given back as the client reads
  nghttp2_option_set_peer_max_concurrent_streams(option, kInitialStreamLimit);
  nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  // No RFC 7540 priority tree, as downstream (h2_connection.cc).
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
                                       {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  // A peer that never answers with SETTINGS does not speak HTTP/2: fail rather than hang.
  timer_ =
      pool_.upstreams().loop().AddTimer(pool_.upstreams().options().connect_timeout * 2, [this] {
        timer_ = 0;
        if (!settings_received_) {
          FailAll("upstream sent no HTTP/2 SETTINGS", true);
        }
      });
  Flush();
}

H2Session::~H2Session() {
  pool_.upstreams().loop().CancelTimer(timer_);
  pool_.upstreams().loop().CancelTimer(stall_timer_);
  if (session_) nghttp2_session_del(session_);
}

bool H2Session::HasRoom() const {
  if (closing_) return false;
  uint32_t limit =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return active_streams() < limit;
}

H2UpstreamStream* H2Session::Submit(const H2RequestStart& request, H2StreamClient* client) {
  const http::RequestHead& head = *request.head;
  auto owned = std::unique_ptr<H2UpstreamStream>(new H2UpstreamStream(*this, client));
  H2UpstreamStream* stream = owned.get();
  // In the stream's own block: nghttp2 serializes the HEADERS before the stream can close.
  H2HeaderBlock& block = stream->block_;
  std::string_view scheme = connection_->ssl() ? "https" : "http";
  std::string_view path = head.path.empty() ? std::string_view("/") : head.path;
  size_t bytes = head.method.size() + scheme.size() + head.host.size() + path.size() +
                 (request.te_trailers ? 8 : 0);
  for (const http::HeaderView& field : head.headers.fields()) {
    bytes += field.name.size() + field.value.size();
  }
  bool connect = !request.protocol.empty();
  bytes += request.protocol.size();
  block.Start(bytes);
  block.AddStatic(":method", connect ? std::string_view("CONNECT") : std::string_view(head.method));
  if (connect) block.AddStatic(":protocol", request.protocol);
  block.AddStatic(":scheme", scheme);
  block.AddStatic(":authority", head.host);
  block.AddStatic(":path", path);
  for (const http::HeaderView& field : head.headers.fields()) {
    // RFC 8441 5: no Sec-WebSocket-Key (nor Accept) over HTTP/2; the stream's 2xx is the
    // handshake's success.
    if (connect && http::EqualsIgnoreCase(field.name, "sec-websocket-key")) continue;
    block.Add(field.name, field.value);
  }
  if (request.te_trailers) block.AddStatic("te", "trailers");

  if (settings_received_ && timer_ != 0) {  // the idle timer
    pool_.upstreams().loop().CancelTimer(timer_);
    timer_ = 0;
  }
  if (connect) {
    // RFC 8441 3: sent only once the peer's SETTINGS allowed it; its DATA is the tunnel's
    // (there is always a body, which the tunnel ends).
    stream->extended_connect_ = true;
    waiting_.push_back(std::move(owned));
    ScheduleFlush();  // SubmitWaiting, after this round
    return stream;
  }
  stream->body_done_ = !request.has_body;
  if (!SubmitNow(owned, request.has_body)) return nullptr;
  // Sent after this round, so the caller has the stream before any callback about it.
  ScheduleFlush();
  return stream;
}

bool H2Session::SubmitNow(std::unique_ptr<H2UpstreamStream>& owned, bool with_body) {
  H2UpstreamStream* stream = owned.get();
  nghttp2_data_provider provider{};
  provider.source.ptr = stream;
  provider.read_callback = H2UpstreamStream::ReadBody;
  int32_t id =
      nghttp2_submit_request(session_, nullptr, stream->block_.data(), stream->block_.size(),
                             with_body ? &provider : nullptr, stream);
  if (id < 0) {
    spdlog::warn("HTTP/2 request to {} not submitted: {}", connection_->endpoint(),
                 nghttp2_strerror(id));
    closing_ = true;  // stream ids exhausted: new streams go to another session
    return false;
  }
  stream->id_ = id;
  streams_[id] = std::move(owned);
  return true;
}

void H2Session::SubmitWaiting() {
  bool allowed =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1;
  // Taken out first: a client told of a refusal may open another stream here.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& owned : waiting) {
    H2UpstreamStream* stream = owned.get();
    H2StreamClient* client = stream->client_;
    if (client == nullptr) continue;  // cancelled while waiting: never sent
    if (allowed && !closing_) {
      if (SubmitNow(owned, true)) continue;
    } else if (!closing_) {
      stream->no_extended_connect_ = true;
    }
    stream->client_ = nullptr;
    stream->refused_ = !stream->no_extended_connect_;  // a session going away: sent elsewhere
    client->OnH2StreamFailed(
        *stream, true,
        stream->no_extended_connect_
            ? "the backend did not enable extended CONNECT (RFC 8441 "
              "SETTINGS_ENABLE_CONNECT_PROTOCOL): no WebSocket over HTTP/2 to it"
            : "HTTP/2 session closing before the request went");
  }
}

H2UpstreamStream* H2Session::Find(int32_t id) {
  if (id == found_id_ && id > 0) return found_;
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  found_id_ = id;
  found_ = it->second.get();
  return found_;
}

void H2Session::ScheduleFlush() {
  if (flush_scheduled_ || closed_) return;
  flush_scheduled_ = true;
  // The session, if removed meanwhile, is destroyed only after this.
  pool_.upstreams().loop().Defer([this] {
    flush_scheduled_ = false;
    Flush();
  });
}

void H2Session::Flush() {
  if (closed_ || in_nghttp2_) return;
  if (settings_received_ && !waiting_.empty()) {
    SubmitWaiting();
    if (closed_) return;
  }
  // nghttp2 gives one frame per call: they are gathered and written at once.
  size_t high = pool_.upstreams().high_water();
  bool queued = false;
  while (connection_->pending_output() < high && nghttp2_session_want_write(session_)) {
    const uint8_t* data = nullptr;
    in_nghttp2_ = true;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    in_nghttp2_ = false;
    if (n < 0) {
      FailAll(std::string("HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(n)), false);
      return;
    }
    if (n == 0) break;
    connection_->Queue(std::string_view(reinterpret_cast<const char*>(data), n));
    queued = true;
  }
  if (queued) connection_->SendQueued();
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) &&
      connection_->pending_output() == 0) {
    FailAll(settings_received_ ? "HTTP/2 session ended" : "upstream is not speaking HTTP/2", false);
    return;
  }
  if (streams_.empty() && waiting_.empty()) {
    if (closing_) {
      Close();
    } else if (timer_ == 0) {
      ArmIdleTimer();
    }
  }
}

void H2Session::ArmIdleTimer() {
  timer_ = pool_.upstreams().loop().AddTimer(pool_.upstreams().options().idle_timeout, [this] {
    timer_ = 0;
    if (streams_.empty() && waiting_.empty()) {
      Close();
    } else {
      ArmIdleTimer();
    }
  });
}

void H2Session::WatchStall() {
  auto timeout = pool_.upstreams().options().h2_stall_timeout;
  if (stall_timer_ == 0 && !closed_ && timeout.count() > 0) ArmStallCheck(timeout);
}

void H2Session::ArmStallCheck(Clock::duration after) {
  stall_timer_ = pool_.upstreams().loop().AddTimer(after, [this] {
    stall_timer_ = 0;
    CheckStalls();
  });
}

void H2Session::CheckStalls() {
  auto timeout = pool_.upstreams().options().h2_stall_timeout;
  Clock::time_point now = Clock::now();
  std::vector<int32_t> stalled;
  Clock::time_point next = Clock::time_point::max();
  for (auto& [id, stream] : streams_) {
    if (stream->client_ == nullptr || stream->body_.empty()) continue;
    if (now - stream->waiting_since_ >= timeout) {
      stalled.push_back(id);
    } else {
      next = std::min(next, stream->waiting_since_ + timeout);
    }
  }
  // Told one by one, each found again: a client's answer may touch the session.
  for (int32_t id : stalled) {
    if (closed_) return;
    H2UpstreamStream* stream = Find(id);
    if (stream == nullptr || stream->client_ == nullptr) continue;
    H2StreamClient* client = stream->client_;
    stream->stalled_ = true;
    stream->Cancel();          // RST_STREAM CANCEL
    stream->body_ = Buffer();  // its memory too
    connection_->cluster_stats().h2_stalled.Add();
    std::string why = "upstream HTTP/2 stream stalled: no request body taken for " +
                      std::to_string(timeout.count()) + " ms";
    spdlog::debug("{} ({})", why, connection_->endpoint());
    client->OnH2StreamFailed(*stream, false, std::move(why));
  }
  if (!closed_ && stall_timer_ == 0 && next != Clock::time_point::max()) {
    ArmStallCheck(next - now + std::chrono::milliseconds(1));
  }
}

void H2Session::OnUpstreamConnected(UpstreamConnection& upstream) {
  if (upstream.ssl() == nullptr) return;
  std::string refusal = UpstreamTls::AlpnRefusal(upstream.ssl());
  if (refusal.empty()) return;
  // Not HTTP/2 in any other way either: nothing was sent, no stream was acted on.
  spdlog::warn("upstream {}: {}", upstream.endpoint(), refusal);
  upstream.cluster_stats().tls_errors.Add();
  FailAll(std::move(refusal), true);
}

void H2Session::OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) {
  // The pool closed the connection already (it stays readable for the rest of this round).
  FailAll(upstream.tls_failed()
              ? std::string("upstream TLS handshake failed")
              : std::string("upstream connect ") + (timed_out ? "timeout" : "failed"),
          true);
}

void H2Session::OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) {
  if (closed_) return;
  Buffer& input = upstream.input();
  if (!input.empty()) {
    in_nghttp2_ = true;
    ssize_t used = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(input.view().data()), input.size());
    in_nghttp2_ = false;
    if (closed_) return;
    if (used < 0) {
      FailAll(std::string("upstream is not speaking HTTP/2: ") +
                  nghttp2_strerror(static_cast<int>(used)),
              !settings_received_);
      return;
    }
    input.Consume(static_cast<size_t>(used));
  }
  if (eof) {
    FailAll(error ? "upstream reset" : "upstream closed the HTTP/2 connection", false);
    return;
  }
  ScheduleFlush();
}

void H2Session::OnUpstreamDrained(UpstreamConnection&) { Flush(); }

// A peer that sent no SETTINGS yet is no HTTP/2 server: it acted on none of the streams.
void H2Session::FailAll(std::string why, bool all_unprocessed) {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  pool_.upstreams().loop().CancelTimer(timer_);
  pool_.upstreams().loop().CancelTimer(stall_timer_);
  timer_ = stall_timer_ = 0;
  if (connection_) pool_.upstreams().Release(connection_, false);
  // The streams live until the end of this call: a client may look at them while told.
  auto streams = std::move(streams_);
  streams_.clear();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  found_id_ = 0;
  for (auto& [id, stream] : streams) {
    if (H2StreamClient* client = stream->client_) {
      stream->client_ = nullptr;
      bool unprocessed = all_unprocessed || !settings_received_ || !stream->headers_sent_;
      client->OnH2StreamFailed(*stream, unprocessed, why);
    }
  }
  for (auto& stream : waiting) {  // never sent
    if (H2StreamClient* client = std::exchange(stream->client_, nullptr)) {
      client->OnH2StreamFailed(*stream, true, why);
    }
  }
  pool_.Remove(this);
}

void H2Session::Close() { FailAll("HTTP/2 session closed", false); }

void H2Session::StreamGone(H2UpstreamStream* stream) {
  if (found_id_ == stream->id_) found_id_ = 0;
  streams_.erase(stream->id_);
}

int H2Session::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Session*>(user);
  H2UpstreamStream* stream = self->Find(frame->hd.stream_id);
  if (stream && stream->response_started_) stream->in_trailers_ = true;
  return 0;
}

int H2Session::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                        size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                        void* user) {
  auto* self = static_cast<H2Session*>(user);
  H2UpstreamStream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (stream->in_trailers_) {
    stream->trailers_in_.push_back({std::string(n), std::string(v)});
    return 0;
  }
  if (n == ":status") {
    int status = 0;
    std::from_chars(v.data(), v.data() + v.size(), status);
    stream->head_.status = status;
    return 0;
  }
  if (!n.empty() && n[0] == ':') return 0;
  stream->head_.headers.Add(n, v);
  return 0;
}

int H2Session::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Session*>(user);
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    if (!self->settings_received_) {  // the timer waiting for them
      self->settings_received_ = true;
      self->pool_.upstreams().loop().CancelTimer(self->timer_);
      self->timer_ = 0;
    }
    return 0;
  }
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    // Streams above last_stream_id are closed by nghttp2 with REFUSED_STREAM; the ones below
    // finish here. No new stream goes on this session.
    self->closing_ = true;
    spdlog::debug("HTTP/2 GOAWAY from {} (last stream {})", self->connection_->endpoint(),
                  frame->goaway.last_stream_id);
    return 0;
  }
  H2UpstreamStream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr || stream->client_ == nullptr) return 0;
  bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (frame->hd.type == NGHTTP2_HEADERS && !stream->in_trailers_) {
    if (stream->head_.status < 200) {  // 1xx: interim, dropped
      stream->head_ = http::ResponseHead();
      return 0;
    }
    stream->response_started_ = true;
    stream->client_->OnH2ResponseHead(*stream, stream->head_, end);
  }
  if (end && stream->client_ && stream->response_started_) {
    H2StreamClient* client = stream->client_;
    stream->client_ = nullptr;
    stream->ended_ = true;
    client->OnH2ResponseEnd(*stream, stream->trailers_in_);
  }
  return 0;
}

int H2Session::OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (H2UpstreamStream* stream = self->Find(frame->hd.stream_id)) stream->headers_sent_ = true;
  return 0;
}

int H2Session::OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int error, void* user) {
  auto* self = static_cast<H2Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2UpstreamStream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr || stream->client_ == nullptr) return 0;
  // Never sent (the session is going away): safe to send elsewhere.
  H2StreamClient* client = stream->client_;
  stream->client_ = nullptr;
  stream->refused_ = true;
  client->OnH2StreamFailed(*stream, true,
                           std::string("HTTP/2 request not sent: ") + nghttp2_strerror(error));
  return 0;
}

int H2Session::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                           const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<H2Session*>(user);
  H2UpstreamStream* stream = self->Find(stream_id);
  if (stream == nullptr || stream->client_ == nullptr) {
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  stream->client_->OnH2ResponseData(*stream,
                                    std::string_view(reinterpret_cast<const char*>(data), len));
  if (stream->paused_ && stream->client_) {
    stream->unconsumed_ += len;
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int H2Session::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* self = static_cast<H2Session*>(user);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  std::unique_ptr<H2UpstreamStream> stream = std::move(it->second);
  if (self->found_id_ == stream_id) self->found_id_ = 0;
  self->streams_.erase(it);
  if (stream->unconsumed_ > 0) {
    nghttp2_session_consume_connection(self->session_, stream->unconsumed_);
  }
  if (stream->client_) {
    H2StreamClient* client = stream->client_;
    stream->client_ = nullptr;
    bool refused = error_code == NGHTTP2_REFUSED_STREAM;
    stream->refused_ = refused;
    client->OnH2StreamFailed(
        *stream, refused || !stream->headers_sent_,
        std::string("upstream reset the stream: ") + nghttp2_http2_strerror(error_code));
  }
  return 0;
}

}  // namespace xgate::proxy
