#include "userspace-proxy/server/http1_connection.h"

#include <sys/epoll.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/h2_connection.h"
#include "userspace-proxy/server/tls.h"

namespace xgate::proxy {
namespace {

std::vector<http::Header> ToHeaders(std::span<const http::HeaderView> views) {
  std::vector<http::Header> headers;
  headers.reserve(views.size());
  for (const auto& view : views) {
    headers.push_back({std::string(view.name), std::string(view.value)});
  }
  return headers;
}

}  // namespace

Http1Connection::Http1Connection(Worker& worker, std::unique_ptr<Transport> transport,
                                 SocketAddress local, SocketAddress peer,
                                 std::shared_ptr<const Config> accept_config)
    : worker_(worker),
      transport_(std::move(transport)),
      local_(local),
      peer_(peer),
      peer_text_(peer.ToString()),
      peer_ip_(peer.Ip()),
      local_ip_(local.Ip()),
      accept_config_(std::move(accept_config)),
      parser_(worker.options().limits.head) {}

Http1Connection::~Http1Connection() {
  *alive_ = false;
  worker_.loop().CancelTimer(idle_timer_);
  DestroyExchange(exchange_);
  DestroyExchange(retired_exchange_);
  if (transport_) worker_.loop().Remove(transport_->fd());
}

void Http1Connection::Start() {
  int fd = transport_->fd();
  worker_.loop().Add(fd, [this](uint32_t events) { OnEvents(events); });
  ArmIdleTimer(worker_.options().header_timeout);
}

void Http1Connection::Drain() {
  if (closed_ || closing_) return;
  // Between requests: a client about to send gets a second to do so (its request is then
  // answered with Connection: close), so a busy connection is not cut mid-send.
  if (!exchange_ && in_.empty()) ArmIdleTimer(std::chrono::seconds(1));
}

// The idle timer is lazy: re-arming for a later deadline (every request) only moves
// idle_deadline_; the armed timer fires first, sees the later deadline and waits again. So a
// keep-alive request costs no timer insertion or removal.
void Http1Connection::ArmIdleTimer(std::chrono::milliseconds after) {
  Clock::time_point deadline = worker_.loop().Now() + after;
  idle_deadline_ = deadline;
  if (idle_timer_ != 0 && idle_timer_fires_ <= deadline) return;
  worker_.loop().CancelTimer(idle_timer_);
  idle_timer_fires_ = deadline;
  idle_timer_ = worker_.loop().AddTimer(after, [this] { OnIdleTimer(); });
}

void Http1Connection::DisarmIdleTimer() { idle_deadline_ = Clock::time_point::max(); }

void Http1Connection::OnIdleTimer() {
  idle_timer_ = 0;
  if (idle_deadline_ == Clock::time_point::max()) return;
  Clock::time_point now = Clock::now();
  if (now < idle_deadline_) {
    idle_timer_fires_ = idle_deadline_;
    idle_timer_ = worker_.loop().AddTimer(idle_deadline_ - now, [this] { OnIdleTimer(); });
    return;
  }
  if (lingering_) {
    CloseNow();
    return;
  }
  if (exchange_) return;
  if (in_.empty()) {
    CloseNow();
    return;
  }
  // A head started but did not complete in time.
  keep_alive_ = false;
  worker_.stats().CountRequest("", "", 408);
  out_.Append(http::MakeSimpleResponse(408, {}, "request head timeout\n", true));
  CloseAfterWrite();
}

void Http1Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  transport_->NoteEvents(events);
  if (!transport_->handshake_done()) {
    Transport::Io io = transport_->Handshake();
    if (io == Transport::Io::kWouldBlock) return;
    if (io != Transport::Io::kOk) {
      stats::TlsFailure why = transport_->handshake_failure();
      worker_.stats().TlsHandshakeFailed(why);
      spdlog::debug("TLS handshake from {} failed: {}", peer_text_, stats::TlsFailureName(why));
      CloseNow();
      return;
    }
    worker_.stats().TlsHandshakeOk();
    if (!OnHandshakeDone()) return;
  }
  if (events & EPOLLOUT) Flush();
  if (closed_) return;
  // A plain socket that only became writable has nothing to read (edge-triggered: new
  // input comes with its own event). TLS reads on: OpenSSL may hold records already.
  constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (!(events & kReadable) && transport_->ssl() == nullptr && read_drained_) return;
  ReadInput();
}

bool Http1Connection::OnHandshakeDone() {
  const char* name = SSL_get_servername(transport_->ssl(), TLSEXT_NAMETYPE_host_name);
  sni_ = name ? routing::NormalizeHost(name) : "";
  accept_config_.reset();  // the SNI callback is done with it
  if (NegotiatedAlpn(transport_->ssl()) != "h2") return true;
  // HTTP/2: hand the TLS session over to an HTTP/2 connection on the same fd.
  HandOver([&](std::unique_ptr<Transport> transport) {
    return std::make_unique<H2Connection>(worker_, std::move(transport), local_, peer_, sni_);
  });
  return false;
}

bool Http1Connection::ReadPaused() const {
  // Pipelined input waits in in_ while a request runs: as capped as the output.
  size_t cap = worker_.upstreams().high_water();
  if (out_.size() >= cap || in_.size() >= cap) return true;
  return exchange_ && exchange_->request_paused();
}

void Http1Connection::ReadInput() {
  if (closed_ || peer_closed_) return;
  if (lingering_) {
    Buffer discard;
    for (;;) {
      Transport::Io io = transport_->Read(discard, 64 * 1024);
      discard.Clear();
      if (io == Transport::Io::kOk) continue;
      if (io != Transport::Io::kWouldBlock) CloseNow();
      return;
    }
  }
  while (!ReadPaused() && !closed_ && !closing_) {
    size_t before = in_.size();
    Transport::Io io = transport_->Read(in_, 64 * 1024);
    if (in_.size() > before) {
      if (!exchange_ && !head_timer_armed_) {
        head_timer_armed_ = true;
        ArmIdleTimer(worker_.options().header_timeout);
      }
      Process();
      if (closed_) return;  // handed over (h2c prior knowledge) or closed
    }
    if (io == Transport::Io::kWouldBlock || (io == Transport::Io::kOk && transport_->drained())) {
      read_drained_ = true;
      return;
    }
    if (io == Transport::Io::kOk) continue;
    peer_closed_ = true;
    if (io == Transport::Io::kError) {
      CloseNow();
      return;
    }
    // A pipelined request may wait in in_: its turn came (the previous exchange finished
    // earlier in this round) but the deferred Process() has not run yet.
    if (!exchange_) Process();
    if (closed_) return;
    if (!exchange_) {
      CloseAfterWrite();  // what is queued (an answer) still goes out
      return;
    }
    if (!request_body_ended_) {
      exchange_->ClientGone("client closed mid-request");
      CloseNow();
    }
    // Else the client half-closed after complete requests: answer them, then close.
    return;
  }
  read_drained_ = false;  // stopped early: the socket may hold more
}

bool Http1Connection::TakePriorKnowledgeH2() {
  if (preface_checked_) return false;
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string_view in = in_.view();
  size_t n = std::min(in.size(), kPreface.size());
  if (transport_->ssl() != nullptr || exchange_ || in.substr(0, n) != kPreface.substr(0, n)) {
    preface_checked_ = true;
    return false;
  }
  if (n < kPreface.size()) return true;  // so far a preface: wait for the rest
  preface_checked_ = true;
  std::string early(in);
  HandOver([&](std::unique_ptr<Transport> transport) {
    return std::make_unique<H2Connection>(worker_, std::move(transport), local_, peer_, "", early);
  });
  return true;
}

void Http1Connection::Process() {
  if (processing_) return;
  if (TakePriorKnowledgeH2()) return;
  processing_ = true;
  while (!closed_ && !closing_) {
    if (exchange_ && request_body_ended_) break;  // pipelined requests wait their turn
    if (exchange_ && exchange_->request_paused()) break;
    http::Step step = parser_.Parse(in_.view());
    if (step.kind == http::StepKind::kNeedMore) {
      in_.Consume(step.consumed);
      break;
    }
    if (step.kind == http::StepKind::kError) {
      HandleParseError();
      break;
    }
    if (step.kind == http::StepKind::kHeadComplete) {
      StartExchange();
      in_.Consume(step.consumed);
      continue;
    }
    // Body bytes and the end of a message: the exchange may have finished already (an
    // answer without reading the body); then they are dropped.
    if (step.kind == http::StepKind::kBodyData) {
      if (exchange_) exchange_->RequestData(step.body);
    } else if (step.kind == http::StepKind::kMessageComplete) {
      request_body_ended_ = true;
      if (exchange_) exchange_->RequestEnd(ToHeaders(parser_.trailers()));
    }
    in_.Consume(step.consumed);
  }
  processing_ = false;
}

void Http1Connection::StartExchange() {
  const http::RequestHeadView& view = parser_.head();
  head_timer_armed_ = false;
  DisarmIdleTimer();
  keep_alive_ = view.keep_alive;
  version_minor_ = view.version_minor;
  response_chunked_ = false;
  request_body_ended_ = false;

  DestroyExchange(retired_exchange_);
  DestroyExchange(exchange_);
  exchange_ = &exchange_slot_.emplace(worker_, *this);
  ExchangeRequest& request = exchange_->request();
  http::ToRequestHead(view, &request.head);
  request.has_body = view.framing != http::BodyFraming::kNone;
  if (view.framing == http::BodyFraming::kContentLength) {
    request.content_length = view.content_length;
  }
  if (view.expect_continue) {
    out_.Append("HTTP/1.1 100 Continue\r\n\r\n");
    request.head.headers.Remove("Expect");
  }
  request.protocol = view.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  request.local_ip = local_ip_;
  request.local_port = local_.Port();
  request.sni = sni_;
  request.tls = transport_->ssl() != nullptr;
  request.client_ip = peer_ip_;
  if (AccessLog::Enabled()) request.client = peer_text_;
  if (view.upgrade) request.upgrade = UpgradeProtocol(request.head);
  exchange_->Start();
}

void Http1Connection::DestroyExchange(Exchange*& exchange) {
  if (exchange == nullptr) return;
  exchange = nullptr;
  exchange_slot_.reset();
}

void Http1Connection::HandleParseError() {
  http::ParseError error = parser_.error();
  int status = http::ParseErrorStatus(error);
  if (status == 0) status = 400;
  std::string reason(http::ParseErrorName(error));
  keep_alive_ = false;
  worker_.stats().ParseRefused(error);
  if (exchange_) {
    // The head was fine, the body was not: the exchange answers (or cuts) and we close.
    exchange_->Reply(status, "bad request: " + reason + "\n", "parse error: " + reason);
    return;
  }
  AccessLogEntry log;
  log.client = peer_text_;
  log.protocol = "HTTP/1.1";
  log.status = status;
  log.error = "parse error: " + reason;
  worker_.stats().CountRequest("", "", status);
  AccessLog::Write(log);
  out_.Append(http::MakeSimpleResponse(status, {}, "bad request: " + reason + "\n", true));
  CloseAfterWrite();
}

void Http1Connection::ResponseHead(http::ResponseHead& head, ResponseBody body,
                                   uint64_t content_length) {
  // A response that comes before the request body ended: do not wait for the rest.
  if (!request_body_ended_ && exchange_ && !exchange_->request_done()) keep_alive_ = false;
  // The framing and Connection fields go after the head's own fields, written as they are
  // when the head holds no hop field (nearly always: none to replace), else set in it.
  char framing[96];
  size_t framing_size = 0;
  auto field = [&](std::string_view name, std::string_view value) {
    if (head.headers.may_hold_hop_fields()) {
      head.headers.Set(name, value);
      return;
    }
    for (std::string_view part : {name, std::string_view(": "), value, std::string_view("\r\n")}) {
      std::memcpy(framing + framing_size, part.data(), part.size());
      framing_size += part.size();
    }
  };
  switch (body) {
    case ResponseBody::kContentLength: {
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof(digits), content_length).ptr;
      field("Content-Length", std::string_view(digits, static_cast<size_t>(end - digits)));
      break;
    }
    case ResponseBody::kStream:
      if (version_minor_ >= 1) {
        field("Transfer-Encoding", "chunked");
        response_chunked_ = true;
      } else {
        keep_alive_ = false;  // HTTP/1.0: the body ends when we close
      }
      break;
    case ResponseBody::kNone:
      break;
  }
  if (worker_.draining()) keep_alive_ = false;
  if (!keep_alive_) field("Connection", "close");
  head.version_minor = 1;
  http::AppendResponseHead(head, out_.Tail(), std::string_view(framing, framing_size));
  // Out with the body that comes in this round, else on its own: a head whose body comes
  // later (or never: an aborted response) is not held until the client's next event.
  ScheduleFlush();
}

void Http1Connection::ResponseData(std::string_view data) {
  if (response_chunked_) {
    http::AppendChunk(data, out_.Tail());
  } else {
    out_.Append(data);
  }
  ScheduleFlush();
}

void Http1Connection::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // After this round of events: one write for everything the upstream gave us. The worker
  // still owning this connection means it is alive (a closed one is dropped from its list
  // at once); two pointers keep the callback free of allocations.
  worker_.loop().Defer([this, &worker = worker_] {
    if (!worker.Owns(this)) return;
    flush_scheduled_ = false;
    Flush();
  });
}

void Http1Connection::ResponseEnd(const std::vector<http::Header>& trailers) {
  if (response_chunked_) http::AppendLastChunk(trailers, out_.Tail());
  Flush();
}

void Http1Connection::ResponseAbort() {
  keep_alive_ = false;
  CloseNow();
}

void Http1Connection::RequestBodyDrained() {
  Process();
  ReadInput();
}

void Http1Connection::ExchangeFinished() {
  bool request_complete = request_body_ended_ || (exchange_ && exchange_->request_done());
  // The exchange is on the call stack: it is destroyed when the next one starts (always
  // from a later call) or with the connection.
  DestroyExchange(retired_exchange_);
  retired_exchange_ = std::exchange(exchange_, nullptr);
  if (closed_) return;
  if (!request_complete) keep_alive_ = false;  // the rest of the body is not worth reading
  if (!keep_alive_) {
    CloseAfterWrite();
    return;
  }
  ArmIdleTimer(worker_.options().idle_timeout);
  // Nothing pipelined, nothing left unread, no hang-up: the next request comes with the
  // socket's next event.
  if (in_.empty() && read_drained_ && !peer_closed_) return;
  // Serve the next pipelined request, if any, once this call stack unwinds.
  worker_.loop().Defer([this, alive = alive_] {
    if (!*alive || closed_) return;
    Process();
    if (peer_closed_ && !exchange_) {
      CloseAfterWrite();  // the client half-closed and every request it sent is answered
      return;
    }
    if (!read_drained_) ReadInput();
  });
}

void Http1Connection::Flush() {
  if (closed_) return;
  size_t before = out_.size();
  Transport::Io io = transport_->Write(out_);
  if (io == Transport::Io::kError) {
    if (exchange_) exchange_->ClientGone("client reset");
    CloseNow();
    return;
  }
  if (out_.empty() && closing_ && peer_closed_) {
    CloseNow();
    return;
  }
  if (out_.empty() && closing_ && !lingering_) {
    // Everything is written: half-close and drain what the client still sends, so the
    // kernel does not reset the connection before the client reads our answer.
    lingering_ = true;
    transport_->ShutdownWrite();
    ArmIdleTimer(std::chrono::seconds(2));  // then closes: lingering_
    ReadInput();
    return;
  }
  size_t cap = worker_.upstreams().high_water();
  if (before >= cap && out_.size() < cap) {
    if (exchange_) exchange_->ResumeResponse();
    ReadInput();
  }
}

void Http1Connection::CloseAfterWrite() {
  closing_ = true;
  Flush();
}

void Http1Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (exchange_ && !exchange_->finished()) exchange_->ClientGone("connection closed");
  worker_.Close(this);
}

}  // namespace xgate::proxy
