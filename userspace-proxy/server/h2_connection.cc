#include "userspace-proxy/server/h2_connection.h"

#include <sys/epoll.h>

#include <algorithm>
#include <charconv>
#include <span>

#include "absl/strings/numbers.h"
#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/h2_fields.h"

namespace xgate::proxy {
namespace {

// A GOAWAY frame (RFC 9113 6.8) written by hand: after a fatal error nghttp2 serializes
// nothing more.
std::string GoawayFrame(int32_t last_stream_id, uint32_t code) {
  std::string frame(17, '\0');
  frame[2] = 8;  // payload length
  frame[3] = NGHTTP2_GOAWAY;
  for (int i = 0; i < 4; ++i) {
    frame[9 + i] =
        static_cast<char>((static_cast<uint32_t>(last_stream_id) >> (24 - 8 * i)) & 0xff);
    frame[13 + i] = static_cast<char>((code >> (24 - 8 * i)) & 0xff);
  }
  return frame;
}

// The PING sent with the shutdown notice, and how long its ACK is waited for.
constexpr uint8_t kDrainPing[8] = {'x', 'g', '-', 'd', 'r', 'a', 'i', 'n'};
constexpr std::chrono::milliseconds kDrainPingWait{3000};
constexpr int32_t kMaxStreamId = 0x7fffffff;  // the last stream id of a shutdown notice

// nghttp2's own flood checks, as abuse kinds.
std::optional<stats::H2Abuse> AbuseOf(ssize_t error) {
  switch (error) {
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      return stats::H2Abuse::kContinuationFlood;
    case NGHTTP2_ERR_FLOODED:
      return stats::H2Abuse::kOutboundFlood;
    default:
      return std::nullopt;
  }
}

// A number's decimal digits in `buffer`.
std::string_view Decimal(uint64_t value, std::span<char, 24> buffer) {
  auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string_view(buffer.data(), static_cast<size_t>(result.ptr - buffer.data()));
}

}  // namespace

// --- H2Stream: the ExchangeOwner side --------------------------------------------------

H2Stream::H2Stream(H2Connection& connection)
    : connection_(connection), stats_(connection.worker_.stats()) {}

H2Stream::~H2Stream() {
  if (open_) stats_.H2StreamClosed();
}

void H2Stream::Open(int32_t id) {
  open_ = true;
  id_ = id;
  stats_.H2StreamOpened();
}

void H2Stream::Close() {
  if (!open_) return;
  open_ = false;
  stats_.H2StreamClosed();
  websocket_.reset();
  exchange_.reset();
  id_ = 0;
  head_request_ = false;
  cookies_.clear();
  trailers_in_.clear();
  headers_done_ = false;
  header_bytes_ = 0;
  headers_too_large_ = false;
  request_ended_ = false;
  unacknowledged_ = 0;
  body_.Clear();
  body_ended_ = false;
  trailers_out_.clear();
  deferred_ = false;
  protocol_.clear();
  websocket_pending_ = false;
  early_.clear();
}

void H2Stream::ResponseHead(http::ResponseHead& head, ResponseBody body, uint64_t content_length) {
  H2Connection& connection = connection_;
  if (websocket_pending_ && head.status >= 200 && head.status < 300) {
    // The backend answered the Upgrade without switching: a 2xx would tell the client its
    // tunnel is open (RFC 8441 5).
    head = http::ResponseHead();
    head.status = 502;
    body = ResponseBody::kNone;
  }
  const http::HeaderMap::Fields& fields = head.headers.fields();
  char status[24], length[24];
  std::string_view status_text = Decimal(static_cast<uint64_t>(std::max(head.status, 0)), status);
  std::string_view length_text;
  if (body == ResponseBody::kContentLength) length_text = Decimal(content_length, length);
  size_t bytes = status_text.size() + length_text.size();
  for (const auto& field : fields) bytes += field.name.size() + field.value.size();
  block_.Start(bytes);
  block_.AddStatic(":status", status_text);
  for (const auto& field : fields) block_.Add(field.name, field.value);
  if (body == ResponseBody::kContentLength) block_.AddStatic("content-length", length_text);
  nghttp2_data_provider provider{};
  provider.source.ptr = this;
  provider.read_callback = &H2Stream::ReadBody;
  bool has_body =
      body != ResponseBody::kNone && !(head.status == 204 || head.status == 304) && !head_request_;
  nghttp2_submit_response(connection.session_, id_, block_.data(), block_.size(),
                          has_body ? &provider : nullptr);
  if (!has_body) body_ended_ = true;
  connection_.ScheduleSend();
}

size_t H2Stream::ResponseBuffered() const {
  return connection_.buffered_ + connection_.out_.size();
}

void H2Stream::ResponseData(std::string_view data) {
  if (body_ended_) return;
  size_t before = connection_.buffered_;
  body_.Append(data);
  connection_.buffered_ += data.size();
  connection_.NoteBuffered(before);
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(connection_.session_, id_);
  }
  connection_.ScheduleSend();
}

void H2Stream::ResponseEnd(const std::vector<http::Header>& trailers) {
  if (body_ended_) return;
  body_ended_ = true;
  trailers_out_ = trailers;
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(connection_.session_, id_);
  }
  connection_.ScheduleSend();
}

void H2Stream::ResponseAbort() {
  nghttp2_submit_rst_stream(connection_.session_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
  connection_.ScheduleSend();
}

void H2Stream::RequestBodyDrained() {
  if (unacknowledged_ > 0) {
    nghttp2_session_consume(connection_.session_, id_, unacknowledged_);
    unacknowledged_ = 0;
    connection_.ScheduleSend();
  }
}

void H2Stream::ExchangeFinished() {
  // The stream stays until nghttp2 closes it; what the client still sends is dropped (and
  // acknowledged, so flow control does not stall the connection).
  RequestBodyDrained();
}

bool H2Stream::TakeUpgrade(http::ResponseHead& head, std::unique_ptr<TunnelPeer>& upstream) {
  if (!websocket_pending_ || connection_.closed_ || connection_.lingering_) return false;
  websocket_pending_ = false;
  head.status = 200;
  head.headers.Remove("Sec-WebSocket-Accept");
  ResponseHead(head, ResponseBody::kStream, 0);
  AccessLogEntry log;
  if (exchange_)
    log = exchange_->TunnelLog("HTTP/2 WebSocket", "CONNECT", 200, upstream->endpoint());
  websocket_ = std::make_unique<H2WebSocket>(*this, std::move(upstream), early_, std::move(log));
  early_.clear();
  websocket_->Start();
  if (request_ended_ && websocket_) websocket_->ClientEnded();
  return true;
}

ssize_t H2Stream::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* stream = static_cast<H2Stream*>(source->ptr);
  H2Connection& connection = stream->connection_;
  size_t before = connection.buffered_;
  size_t n = std::min(length, stream->body_.size());
  std::copy_n(stream->body_.view().data(), n, buf);
  stream->body_.Consume(n);
  connection.buffered_ -= n;
  if (n > 0) connection.last_progress_ = Clock::now();
  if (stream->body_.empty() && stream->body_ended_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->trailers_out_.empty()) {
      // The response's HEADERS went out before its DATA: the stream's block is free again.
      H2HeaderBlock& block = stream->block_;
      size_t bytes = 0;
      for (const auto& trailer : stream->trailers_out_) {
        bytes += trailer.name.size() + trailer.value.size();
      }
      block.Start(bytes);
      for (const auto& trailer : stream->trailers_out_) block.Add(trailer.name, trailer.value);
      if (nghttp2_submit_trailer(session, stream_id, block.data(), block.size()) == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
  } else if (n == 0) {
    stream->deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t limit = connection.buffer_limit();
  if (before >= limit && connection.buffered_ < limit) {
    // Resume the upstreams outside nghttp2's callback.
    connection.worker_.loop().Defer([&connection, alive = connection.alive_] {
      if (*alive) connection.ResumeAll();
    });
  }
  return static_cast<ssize_t>(n);
}

// --- H2Connection ----------------------------------------------------------------------

H2Connection::H2Connection(Worker& worker, std::unique_ptr<Transport> transport,
                           SocketAddress local, SocketAddress peer, std::string sni,
                           std::string_view early_input)
    : worker_(worker),
      transport_(std::move(transport)),
      local_(local),
      peer_(peer),
      peer_text_(peer.ToString()),
      peer_ip_(peer.Ip()),
      local_ip_(local.Ip()),
      sni_(std::move(sni)),
      guard_(worker.options().limits.h2) {
  in_.Append(early_input);
}

H2Connection::~H2Connection() {
  *alive_ = false;
  worker_.loop().CancelTimer(idle_timer_);
  worker_.loop().CancelTimer(stall_timer_);
  worker_.loop().CancelTimer(linger_timer_);
  worker_.loop().CancelTimer(drain_timer_);
  for (auto& [id, stream] : streams_) {
    Exchange* exchange = stream->started();
    if (exchange && !exchange->finished()) exchange->ClientGone("connection closed");
  }
  streams_.clear();
  found_id_ = 0;
  retired_.clear();
  spare_.clear();
  if (session_) nghttp2_session_del(session_);
  worker_.loop().Remove(transport_->fd());
}

void H2Connection::Start() {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, OnBeginFrame);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSend);
  const H2Limits& limits = worker_.options().limits.h2;
  nghttp2_option* option;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);  // we acknowledge DATA ourselves
  nghttp2_option_set_max_continuations(option, limits.max_continuations);
  nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_size},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits.header_table_size},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},  // RFC 8441: WebSocket over a stream
      // No RFC 7540 priority tree (deprecated by RFC 9113 5.3.1): nghttp2 then keeps no
      // dependency tree and no closed streams for it, and schedules streams by RFC 9218's
      // simpler urgency queues.
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(limits.initial_connection_window));
  worker_.loop().Add(transport_->fd(), [this](uint32_t events) { OnEvents(events); });
  ArmIdleCheck();
  if (worker_.draining()) Drain();
  SendPending();
  ReadInput();  // the client's preface may already be waiting
}

void H2Connection::Drain() {
  if (closed_ || lingering_ || draining_) return;
  draining_ = true;
  // RFC 9113 6.8: the notice first (last stream 2^31-1: streams the client opens while it
  // travels are still taken), and a PING whose ACK tells that the client has seen it; then
  // the final GOAWAY names the last stream taken. A client that never answers gets it anyway.
  nghttp2_submit_shutdown_notice(session_);  // the PING follows it out (OnFrameSend)
  SendPending();
  drain_timer_ = worker_.loop().AddTimer(kDrainPingWait, [this] {
    drain_timer_ = 0;
    FinishDrain();
  });
}

void H2Connection::FinishDrain() {
  if (closed_ || lingering_ || final_goaway_) return;
  final_goaway_ = true;
  worker_.loop().CancelTimer(drain_timer_);
  drain_timer_ = 0;
  // nghttp2 takes no new stream once this GOAWAY is out: naming a later one than the last
  // taken would promise streams it then drops.
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  ScheduleSend();
}

void H2Connection::ArmIdleCheck() {
  auto idle = worker_.options().idle_timeout;
  idle_timer_ = worker_.loop().AddTimer(idle, [this, idle] {
    idle_timer_ = 0;
    if (streams_.empty() && Clock::now() - last_activity_ >= idle) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      SendPending();
      Close();
      return;
    }
    ArmIdleCheck();
  });
}

H2Stream* H2Connection::Find(int32_t id) {
  if (id == found_id_ && id != 0) return found_;
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  found_id_ = id;
  found_ = it->second.get();
  return found_;
}

void H2Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  if (events & EPOLLOUT) SendPending();
  if (!closed_) ReadInput();
}

void H2Connection::ReadInput() {
  if (lingering_) {
    for (;;) {
      in_.Clear();
      Transport::Io io = transport_->Read(in_, 64 * 1024);
      if (io == Transport::Io::kOk) continue;
      if (io != Transport::Io::kWouldBlock) Close();
      in_.Clear();
      return;
    }
  }
  while (!closed_ && out_.size() < buffer_limit()) {
    Transport::Io io = transport_->Read(in_, 64 * 1024);
    if (!in_.empty()) {
      last_activity_ = Clock::now();
      ssize_t used = nghttp2_session_mem_recv(
          session_, reinterpret_cast<const uint8_t*>(in_.view().data()), in_.size());
      if (used < 0) {
        std::optional<stats::H2Abuse> abuse = abuse_ ? abuse_ : AbuseOf(used);
        if (abuse) {
          Abuse(*abuse);
          return;
        }
        spdlog::debug("HTTP/2 from {}: {}", peer_text_, nghttp2_strerror(static_cast<int>(used)));
        Close();
        return;
      }
      in_.Consume(static_cast<size_t>(used));
      SendPending();
    }
    // Drained: the read ended at EAGAIN already; another would only meet it again.
    if (io == Transport::Io::kOk && !transport_->drained()) continue;
    if (io == Transport::Io::kOk) return;
    if (io == Transport::Io::kWouldBlock) return;
    Close();  // EOF or error
    return;
  }
}

void H2Connection::ScheduleSend() {
  if (send_scheduled_ || closed_) return;
  send_scheduled_ = true;
  worker_.loop().Defer([this, alive = alive_] {
    if (!*alive || closed_) return;
    send_scheduled_ = false;
    SendPending();
  });
}

void H2Connection::SendPending() {
  if (closed_ || lingering_) return;
  while (out_.size() < buffer_limit()) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Close();
      return;
    }
    if (n == 0) break;
    out_.Append(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
  }
  size_t before = out_.size();
  if (transport_->Write(out_) == Transport::Io::kError) {
    Close();
    return;
  }
  if (out_.size() < before) last_progress_ = Clock::now();
  if (before >= buffer_limit() && out_.size() < buffer_limit()) ReadInput();
  if (out_.empty() && !nghttp2_session_want_read(session_) &&
      !nghttp2_session_want_write(session_)) {
    Linger();  // our GOAWAY is out
  }
}

std::unique_ptr<H2Stream> H2Connection::TakeStream() {
  if (spare_.empty()) return std::make_unique<H2Stream>(*this);
  std::unique_ptr<H2Stream> stream = std::move(spare_.back());
  spare_.pop_back();
  return stream;
}

void H2Connection::Retire(std::unique_ptr<H2Stream> stream) {
  if (retired_.empty()) {
    worker_.loop().Defer([this, alive = alive_] {
      if (!*alive) return;
      size_t keep = worker_.options().limits.h2.max_concurrent_streams;
      for (auto& retired : retired_) {
        retired->Close();
        if (spare_.size() < keep) spare_.push_back(std::move(retired));
      }
      retired_.clear();
    });
  }
  retired_.push_back(std::move(stream));
}

void H2Connection::NoteBuffered(size_t before) {
  if (before == 0 && out_.empty()) last_progress_ = Clock::now();  // waiting starts now
  if (stall_timer_ == 0) ArmStallCheck(worker_.options().limits.h2.stalled_window_timeout);
}

void H2Connection::ArmStallCheck(std::chrono::milliseconds after) {
  stall_timer_ = worker_.loop().AddTimer(after, [this] {
    stall_timer_ = 0;
    if (closed_ || lingering_ || buffered_ + out_.size() == 0) return;
    auto timeout = worker_.options().limits.h2.stalled_window_timeout;
    auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_progress_);
    if (waited >= timeout) {
      Abuse(stats::H2Abuse::kZeroWindow);
      return;
    }
    ArmStallCheck(timeout - waited);
  });
}

void H2Connection::ResumeAll() {
  for (auto& [id, stream] : streams_) {
    Exchange* exchange = stream->started();
    if (exchange && !exchange->finished()) exchange->ResumeResponse();
    if (stream->websocket_) stream->websocket_->ResumeUpstream();
  }
}

void H2Connection::Abuse(stats::H2Abuse kind) {
  if (closed_ || lingering_) return;
  uint32_t code = stats::H2AbuseCode(kind);
  worker_.stats().H2AbuseSeen(kind);
  spdlog::debug("HTTP/2 from {}: {}: GOAWAY {}", peer_text_, stats::H2AbuseName(kind),
                nghttp2_http2_strerror(code));
  out_.Append(GoawayFrame(nghttp2_session_get_last_proc_stream_id(session_), code));
  Linger();
}

void H2Connection::Linger() {
  if (closed_ || lingering_) return;
  lingering_ = true;
  for (auto& [id, stream] : streams_) {
    Exchange* exchange = stream->started();
    if (exchange && !exchange->finished()) exchange->ClientGone("connection closed");
    stream->websocket_.reset();
  }
  if (transport_->Write(out_) == Transport::Io::kError) {
    Close();
    return;
  }
  transport_->ShutdownWrite();  // what is not written by now is dropped
  linger_timer_ = worker_.loop().AddTimer(std::chrono::seconds(2), [this] {
    linger_timer_ = 0;
    Close();
  });
  ReadInput();
}

void H2Connection::StartRequest(H2Stream& stream) {
  ExchangeRequest& request = stream.exchange_->request();
  http::RequestHead& head = request.head;  // filled in place by OnHeader
  if (!stream.cookies_.empty()) head.headers.Add("cookie", stream.cookies_);
  head.version_minor = 1;
  stream.head_request_ = head.method == "HEAD";
  // A CONNECT without :protocol (a TCP tunnel) is not served.
  bool connect = head.method == "CONNECT";
  if (head.method.empty() || head.path.empty() || head.host.empty() ||
      (connect && stream.protocol_.empty())) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id_, NGHTTP2_PROTOCOL_ERROR);
    stream.exchange_.reset();  // never started
    return;
  }
  if (connect && !StartExtendedConnect(stream, request)) {
    stream.exchange_.reset();  // answered locally; never started
    return;
  }
  request.has_body = !stream.request_ended_ && !stream.websocket_pending_;
  if (auto length = head.headers.Get("content-length")) {
    uint64_t value = 0;
    if (absl::SimpleAtoi(std::string(*length), &value)) request.content_length = value;
  }
  request.protocol = "HTTP/2";
  request.local_ip = local_ip_;
  request.local_port = local_.Port();
  request.sni = sni_;
  request.tls = transport_->ssl() != nullptr;  // h2c with prior knowledge is cleartext
  request.client_ip = peer_ip_;
  if (AccessLog::Enabled()) request.client = peer_text_;
  stream.exchange_->Start();
}

bool H2Connection::StartExtendedConnect(H2Stream& stream, ExchangeRequest& request) {
  if (!http::EqualsIgnoreCase(stream.protocol_, "websocket")) {
    AnswerLocally(stream, 501);
    return false;
  }
  // RFC 8441 5: the HTTP/1.1 handshake's GET with the proxy's own key; the client's other
  // Sec-WebSocket-* fields go as they are.
  http::RequestHead& head = request.head;
  head.method = "GET";
  request.websocket_key = NewWebSocketKey();
  head.headers.Set("Sec-WebSocket-Key", request.websocket_key);
  if (!head.headers.Get("sec-websocket-version")) head.headers.Set("Sec-WebSocket-Version", "13");
  request.upgrade = "websocket";
  stream.websocket_pending_ = true;  // no request body: the stream's DATA is the tunnel's
  return true;
}

void H2Connection::EndRequest(H2Stream& stream) {
  stream.request_ended_ = true;
  if (stream.websocket_) {
    stream.websocket_->ClientEnded();
  } else if (stream.exchange_ && !stream.websocket_pending_) {
    stream.exchange_->RequestEnd(stream.trailers_in_);
  }
}

int H2Connection::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Connection*>(user);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    int32_t id = frame->hd.stream_id;
    std::unique_ptr<H2Stream>& stream = self->streams_[id];
    stream = self->TakeStream();
    stream->Open(id);
    // The request head is filled in place, in the exchange that serves it once it ends.
    stream->exchange_.emplace(self->worker_, *stream);
    self->found_id_ = id;  // the block's fields come next
    self->found_ = stream.get();
    self->guard_.OnStreamOpened();
  }
  return 0;
}

int H2Connection::OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
  auto* self = static_cast<H2Connection*>(user);
  self->abuse_ = self->guard_.OnFrameHeader(*hd);
  return self->abuse_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int H2Connection::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  // nghttp2 sends a PING ahead of a GOAWAY queued before it: the drain's PING is queued once
  // the notice is out, so that its ACK means the notice was read.
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.last_stream_id == kMaxStreamId) {
    nghttp2_submit_ping(session, NGHTTP2_FLAG_NONE, kDrainPing);
  }
  // nghttp2 ends the session itself on a header block it cannot decode.
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code == NGHTTP2_COMPRESSION_ERROR) {
    static_cast<H2Connection*>(user)->worker_.stats().H2AbuseSeen(stats::H2Abuse::kHpackInvalid);
  }
  return 0;
}

void H2Connection::RejectHeaders(H2Stream& stream) {
  stream.exchange_.reset();  // never started
  worker_.stats().ParseRefused(http::ParseError::kHeadTooLarge);
  AnswerLocally(stream, 431);
}

void H2Connection::AnswerLocally(H2Stream& stream, int status) {
  worker_.stats().CountRequest("", "", status);
  char digits[24];
  nghttp2_nv nv = H2Nv(":status", Decimal(static_cast<uint64_t>(status), digits));
  nghttp2_submit_response(session_, stream.id_, &nv, 1, nullptr);
  ScheduleSend();
}

int H2Connection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                           size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                           void* user) {
  auto* self = static_cast<H2Connection*>(user);
  H2Stream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  self->abuse_ = self->guard_.OnHeaderField(namelen + valuelen + 32);
  if (self->abuse_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  stream->header_bytes_ += namelen + valuelen + 32;
  if (stream->header_bytes_ > self->worker_.options().limits.h2.max_header_list_size) {
    stream->headers_too_large_ = true;
  }
  if (stream->headers_too_large_) return 0;  // answered 431 once the block ends
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (stream->headers_done_) {  // trailers
    stream->trailers_in_.push_back({std::string(n), std::string(v)});
    return 0;
  }
  if (!stream->exchange_) return 0;
  http::RequestHead& head = stream->exchange_->request().head;
  if (n == ":method") {
    head.method = v;
  } else if (n == ":path") {
    head.path = v;
  } else if (n == ":protocol") {
    stream->protocol_ = v;
  } else if (n == ":authority") {
    if (!v.empty()) head.host = v;
  } else if (n == "host") {
    if (head.host.empty()) head.host = v;
  } else if (n == "cookie") {
    // RFC 9113 8.2.3: split cookie fields are joined for HTTP/1.1.
    if (!stream->cookies_.empty()) stream->cookies_ += "; ";
    stream->cookies_ += v;
  } else if (!n.empty() && n[0] != ':') {
    head.headers.Add(n, v);
  }
  return 0;
}

int H2Connection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Connection*>(user);
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) && self->draining_ &&
      std::equal(std::begin(frame->ping.opaque_data), std::end(frame->ping.opaque_data),
                 kDrainPing)) {
    self->FinishDrain();  // the client has seen the notice
    return 0;
  }
  H2Stream* stream = self->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_RST_STREAM &&
      !(stream->exchange_ && stream->exchange_->finished())) {
    self->abuse_ = self->guard_.OnPrematureReset();
    return self->abuse_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
  }
  bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (frame->hd.type == NGHTTP2_HEADERS && !stream->headers_done_) {
    stream->headers_done_ = true;
    stream->request_ended_ = end_stream;
    if (stream->headers_too_large_) {
      self->RejectHeaders(*stream);
    } else {
      self->StartRequest(*stream);
    }
    return 0;
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
    self->EndRequest(*stream);
  }
  return 0;
}

int H2Connection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                              const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<H2Connection*>(user);
  H2Stream* stream = self->Find(stream_id);
  std::string_view bytes(reinterpret_cast<const char*>(data), len);
  if (stream != nullptr && stream->websocket_) {
    if (stream->websocket_->FromClient(bytes)) {
      nghttp2_session_consume(session, stream_id, len);
    } else {
      stream->unacknowledged_ += len;  // given back once the upstream drains
    }
    return 0;
  }
  if (stream != nullptr && stream->websocket_pending_ && stream->exchange_ &&
      !stream->exchange_->finished()) {
    stream->early_.append(bytes);  // bounded by the stream's window: not acknowledged yet
    stream->unacknowledged_ += len;
    return 0;
  }
  // nghttp2_session_consume gives the bytes back to both windows: the connection's window
  // then bounds what all the streams of a connection hold unacknowledged together.
  if (stream == nullptr || !stream->exchange_ || stream->exchange_->finished()) {
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  stream->exchange_->RequestData(std::string_view(reinterpret_cast<const char*>(data), len));
  if (stream->exchange_ && stream->exchange_->request_paused()) {
    stream->unacknowledged_ += len;  // given back once the upstream drains
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int H2Connection::OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                                void* user) {
  auto* self = static_cast<H2Connection*>(user);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  Exchange* exchange = it->second->started();
  if (exchange && !exchange->finished()) exchange->ClientGone("stream reset by client");
  if (it->second->websocket_) {
    it->second->websocket_->StreamClosed(error_code);
    it->second->websocket_.reset();  // its upstream connection is closed
  }
  // What the stream held unacknowledged goes back to the connection's window.
  if (it->second->unacknowledged_ > 0) {
    nghttp2_session_consume_connection(session, it->second->unacknowledged_);
    it->second->unacknowledged_ = 0;
  }
  self->buffered_ -= it->second->body_.size();
  if (self->found_id_ == stream_id) self->found_id_ = 0;
  self->Retire(std::move(it->second));
  self->streams_.erase(it);
  return 0;
}

void H2Connection::Close() {
  if (closed_) return;
  closed_ = true;
  worker_.Close(this);
}

}  // namespace xgate::proxy
