#include "userspace-proxy/server/http1_connection.h"

#include <sys/epoll.h>

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/mirror.h"

namespace xgate::proxy {
namespace {

constexpr size_t kHighWater = UpstreamPool::kHighWater;
constexpr size_t kMaxInput = 1 << 20;     // pipelined bytes buffered while a request runs
constexpr size_t kMaxReplay = 64 * 1024;  // request bytes kept to retry a stale connection
constexpr int kMaxConnectAttempts = 3;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<http::Header> ToHeaders(std::span<const http::HeaderView> views) {
  std::vector<http::Header> headers;
  headers.reserve(views.size());
  for (const auto& view : views)
    headers.push_back({std::string(view.name), std::string(view.value)});
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
      local_ip_(local.Ip()),
      accept_config_(std::move(accept_config)) {}

Http1Connection::~Http1Connection() {
  EventLoop& loop = worker_.loop();
  loop.CancelTimer(idle_timer_);
  loop.CancelTimer(ex_.request_timer);
  loop.CancelTimer(ex_.backend_timer);
  if (ex_.upstream) worker_.upstreams().Release(ex_.upstream, false);
  for (Mirror* mirror : ex_.mirrors) mirror->Detach();
  loop.Remove(transport_->fd());
}

void Http1Connection::Start() {
  int fd = transport_->fd();
  worker_.loop().Add(fd, [this](uint32_t events) { OnEvents(events); });
  ArmIdleTimer(worker_.options().header_timeout);
}

void Http1Connection::ArmIdleTimer(std::chrono::milliseconds after) {
  worker_.loop().CancelTimer(idle_timer_);
  idle_timer_ = worker_.loop().AddTimer(after, [this] {
    idle_timer_ = 0;
    if (ex_.active) return;
    if (in_.empty() || lingering_) {
      CloseNow();
      return;
    }
    // A head started but did not complete in time.
    ex_.active = true;
    ex_.started = Clock::now();
    ex_.keep_alive = false;
    ex_.request_done = true;
    LocalReply(408, "request head timeout\n", {}, "header timeout");
  });
}

void Http1Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  if (!transport_->handshake_done()) {
    Transport::Io io = transport_->Handshake();
    if (io == Transport::Io::kWouldBlock) return;
    if (io != Transport::Io::kOk) {
      spdlog::debug("TLS handshake from {} failed", peer_text_);
      CloseNow();
      return;
    }
    const char* name = SSL_get_servername(transport_->ssl(), TLSEXT_NAMETYPE_host_name);
    sni_ = name ? routing::NormalizeHost(name) : "";
    accept_config_.reset();  // the SNI callback is done with it
  }
  if (events & EPOLLOUT) Flush();
  if (closed_) return;
  ReadInput();
}

bool Http1Connection::ReadPaused() const {
  if (out_.size() >= kHighWater || in_.size() >= kMaxInput) return true;
  return ex_.upstream && ex_.upstream->pending_output() >= kHighWater;
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
      if (!ex_.active && !head_timer_armed_) {
        head_timer_armed_ = true;
        ArmIdleTimer(worker_.options().header_timeout);
      }
      Process();
    }
    if (io == Transport::Io::kOk) continue;
    if (io == Transport::Io::kWouldBlock) return;
    peer_closed_ = true;
    if (io == Transport::Io::kError) {
      CloseNow();
      return;
    }
    // EOF: finish what is in progress, then close.
    if (!ex_.active) {
      http::Step step = parser_.OnEof();
      if (step.kind == http::StepKind::kError && !in_.empty()) {
        // A truncated request head: nothing to answer on a closed connection.
      }
      CloseNow();
      return;
    }
    if (!ex_.request_done) {
      // The client went away mid-request.
      ex_.log.error = "client closed mid-request";
      FailExchange(400, "client closed mid-request");
      CloseNow();
    }
    return;
  }
}

void Http1Connection::Process() {
  if (processing_) return;
  processing_ = true;
  while (!closed_ && !closing_) {
    if (ex_.active && ex_.request_done) break;  // pipelined requests wait their turn
    if (ex_.upstream && ex_.upstream->pending_output() >= kHighWater) break;
    http::Step step = parser_.Parse(in_.view());
    switch (step.kind) {
      case http::StepKind::kNeedMore:
        in_.Consume(step.consumed);
        processing_ = false;
        return;
      case http::StepKind::kHeadComplete: {
        const http::RequestHeadView& view = parser_.head();
        ex_ = Exchange();
        ex_.active = true;
        ex_.started = Clock::now();
        ex_.request = http::ToRequestHead(view);
        ex_.request_framing = view.framing;
        ex_.keep_alive = view.keep_alive;
        if (view.expect_continue) {
          out_.Append("HTTP/1.1 100 Continue\r\n\r\n");
          ex_.request.headers.Remove("Expect");
        }
        in_.Consume(step.consumed);
        head_timer_armed_ = false;
        worker_.loop().CancelTimer(idle_timer_);
        idle_timer_ = 0;
        StartExchange();
        break;
      }
      case http::StepKind::kBodyData:
        OnRequestBody(step.body);
        in_.Consume(step.consumed);
        break;
      case http::StepKind::kMessageComplete:
        // Trailers are views into in_: use them before consuming.
        OnRequestComplete();
        in_.Consume(step.consumed);
        break;
      case http::StepKind::kError:
        HandleParseError();
        processing_ = false;
        return;
    }
  }
  processing_ = false;
}

void Http1Connection::HandleParseError() {
  http::ParseError error = parser_.error();
  int status = http::ParseErrorStatus(error);
  std::string reason(http::ParseErrorName(error));
  if (!ex_.active) {
    ex_.active = true;
    ex_.started = Clock::now();
  }
  ex_.keep_alive = false;
  ex_.request_done = true;
  if (ex_.upstream) DetachUpstream(false);
  if (ex_.response_started) {
    CloseNow();
    return;
  }
  LocalReply(status ? status : 400, "bad request: " + reason + "\n", {}, "parse error: " + reason);
}

void Http1Connection::StartExchange() {
  ex_.config = worker_.config();
  const Config& config = *ex_.config;
  http::RequestHead& request = ex_.request;
  ex_.log.client = peer_text_;
  ex_.log.protocol = request.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  ex_.log.method = request.method;
  ex_.log.authority = request.host;
  ex_.log.path = request.path;

  routing::MatchInput input;
  input.local_address = local_ip_;
  input.local_port = local_.Port();
  input.sni = sni_;
  input.request = &request;
  routing::RouteDecision decision = config.table().Match(input);
  switch (decision.outcome) {
    case routing::RouteDecision::Outcome::kNoPort:
      ex_.keep_alive = false;
      LocalReply(404, "no gateway port\n", {}, "no port");
      return;
    case routing::RouteDecision::Outcome::kNoListener:
    case routing::RouteDecision::Outcome::kNotFound:
      LocalReply(404, "no route\n", {}, "no route");
      return;
    case routing::RouteDecision::Outcome::kNoBackend:
      if (decision.route) {
        ex_.log.route =
            decision.route->route->route_namespace() + "/" + decision.route->route->route_name();
        ex_.log.rule_index = static_cast<int>(decision.route->route->rule_index());
      }
      LocalReply(500, "no valid backend\n", {}, "no valid backend");
      return;
    case routing::RouteDecision::Outcome::kRouted:
      break;
  }
  const routing::CompiledRoute& compiled = *decision.route;
  const api::Route& route = *compiled.route;
  ex_.route = &compiled;
  ex_.log.route = route.route_namespace() + "/" + route.route_name();
  ex_.log.rule_index = static_cast<int>(route.rule_index());

  routing::RequestContext context;
  context.scheme = transport_->ssl() ? "https" : "http";
  context.listener_port = local_.Port();
  std::string client_ip = peer_.Ip();
  context.client_address = client_ip;
  if (route.match().path().type() == api::PathMatch::PATH_PREFIX) {
    context.matched_prefix = route.match().path().value();
  }
  EventLoop& loop = worker_.loop();
  if (route.request_timeout_ms() > 0) {
    ex_.request_timer =
        loop.AddTimer(std::chrono::milliseconds(route.request_timeout_ms()), [this] {
          ex_.request_timer = 0;
          FailExchange(504, "request timeout");
        });
  }

  ex_.filters = routing::ApplyRequestFilters(route.filters(), context, request, worker_.rng());
  if (ex_.filters.redirect) {
    std::vector<http::Header> headers = {{"Location", ex_.filters.redirect->location}};
    LocalReply(ex_.filters.redirect->status, "", std::move(headers), "");
    return;
  }
  const api::WeightedCluster* backend = routing::PickBackend(compiled, worker_.rng());
  if (backend == nullptr || backend->cluster().empty()) {
    LocalReply(500, "no valid backend\n", {}, "invalid backend");
    return;
  }
  routing::FilterOutcome backend_filters =
      routing::ApplyRequestFilters(backend->filters(), context, request, worker_.rng());
  if (backend_filters.redirect) {
    std::vector<http::Header> headers = {{"Location", backend_filters.redirect->location}};
    LocalReply(backend_filters.redirect->status, "", std::move(headers), "");
    return;
  }
  for (auto& name : backend_filters.mirror_clusters) ex_.filters.mirror_clusters.push_back(name);
  for (auto* modifier : backend_filters.response_modifiers) {
    ex_.filters.response_modifiers.push_back(modifier);
  }
  ex_.cluster = backend->cluster();
  ex_.log.cluster = ex_.cluster;
  ex_.endpoints = config.cluster(ex_.cluster);
  if (ex_.endpoints == nullptr || ex_.endpoints->endpoints.empty()) {
    LocalReply(503, "no healthy upstream\n", {}, "no endpoints");
    return;
  }

  http::StripHopByHop(request.headers);
  routing::ApplyForwardedHeaders(context, request);
  if (ex_.request_framing == http::BodyFraming::kContentLength) {
    request.headers.Set("Content-Length", std::to_string(parser_.head().content_length));
  } else if (ex_.request_framing == http::BodyFraming::kChunked) {
    request.headers.Set("Transfer-Encoding", "chunked");
  }
  std::string head;
  http::AppendRequestHead(request, &head);

  for (const std::string& mirror_cluster : ex_.filters.mirror_clusters) {
    const ClusterEndpoints* endpoints = config.cluster(mirror_cluster);
    if (endpoints == nullptr) continue;
    http::RequestHead copy = request;
    copy.headers.Set("Connection", "close");
    std::string mirror_head;
    http::AppendRequestHead(copy, &mirror_head);
    if (Mirror* mirror = Mirror::Start(worker_, mirror_cluster, *endpoints, mirror_head)) {
      ex_.mirrors.push_back(mirror);
    }
  }

  ex_.replay = head;
  ex_.upstream_started = Clock::now();
  if (route.backend_request_timeout_ms() > 0) {
    ex_.backend_timer =
        loop.AddTimer(std::chrono::milliseconds(route.backend_request_timeout_ms()), [this] {
          ex_.backend_timer = 0;
          FailExchange(504, "backend request timeout");
        });
  }
  if (!ConnectUpstream(std::move(head))) return;
  if (ex_.request_framing == http::BodyFraming::kNone) OnRequestComplete();
}

bool Http1Connection::ConnectUpstream(std::string pending) {
  std::string error;
  bool allow_reuse = !ex_.retried_stale;
  ex_.upstream = worker_.upstreams().Acquire(ex_.cluster, *ex_.endpoints, ex_.tried, this,
                                             allow_reuse, &error);
  if (ex_.upstream == nullptr) {
    FailExchange(ex_.tried.empty() ? 503 : 502, "upstream connect failed: " + error);
    return false;
  }
  ex_.tried.push_back(ex_.upstream->endpoint());
  ex_.log.endpoint = ex_.upstream->endpoint();
  ex_.upstream->parser().ExpectResponseTo(ex_.request.method);
  ex_.upstream->Send(pending);
  return true;
}

void Http1Connection::SendUpstream(std::string_view bytes) {
  if (ex_.replay_complete) {
    if (ex_.replay.size() + bytes.size() <= kMaxReplay) {
      ex_.replay.append(bytes);
    } else {
      ex_.replay_complete = false;
      ex_.replay.clear();
    }
  }
  for (Mirror* mirror : ex_.mirrors) mirror->Send(bytes);
  if (ex_.upstream) ex_.upstream->Send(bytes);
}

void Http1Connection::OnRequestBody(std::string_view data) {
  if (!ex_.active) return;
  ex_.log.bytes_in += data.size();
  if (ex_.discard_body || ex_.cluster.empty() || ex_.response_done) return;
  if (ex_.request_framing == http::BodyFraming::kChunked) {
    std::string chunk;
    http::AppendChunk(data, &chunk);
    SendUpstream(chunk);
  } else {
    SendUpstream(data);
  }
}

void Http1Connection::OnRequestComplete() {
  if (!ex_.active || ex_.request_done) return;
  if (!ex_.discard_body && !ex_.cluster.empty() && !ex_.response_done &&
      ex_.request_framing == http::BodyFraming::kChunked) {
    std::string last;
    http::AppendLastChunk(ToHeaders(parser_.trailers()), &last);
    SendUpstream(last);
  }
  ex_.request_done = true;
  MaybeFinishExchange();
}

void Http1Connection::LocalReply(int status, std::string_view body,
                                 std::vector<http::Header> headers, std::string error) {
  if (!ex_.request_done && ex_.request_framing != http::BodyFraming::kNone) {
    // Do not wait for a body we will not forward: answer and close after.
    ex_.discard_body = true;
    ex_.keep_alive = false;
  }
  ex_.request_done = true;
  if (!body.empty()) headers.push_back({"Content-Type", "text/plain"});
  bool close = !ex_.keep_alive || peer_closed_;
  out_.Append(http::MakeSimpleResponse(status, headers, body, close));
  ex_.response_started = true;
  ex_.response_done = true;
  ex_.log.status = status;
  ex_.log.bytes_out = body.size();
  ex_.log.error = std::move(error);
  Flush();
  MaybeFinishExchange();
}

void Http1Connection::FailExchange(int status, std::string error) {
  if (!ex_.active || ex_.response_done) return;
  if (ex_.upstream) DetachUpstream(false);
  if (ex_.response_started) {
    // Part of the response is out already: all we can do is cut the connection.
    ex_.log.error = std::move(error);
    ex_.keep_alive = false;
    ex_.response_done = true;
    ex_.request_done = true;
    FinishExchange();
    CloseNow();
    return;
  }
  LocalReply(
      status,
      http::ReasonPhrase(status).empty() ? "" : std::string(http::ReasonPhrase(status)) + "\n", {},
      std::move(error));
}

void Http1Connection::DetachUpstream(bool reusable) {
  UpstreamConnection* upstream = ex_.upstream;
  ex_.upstream = nullptr;
  worker_.loop().CancelTimer(ex_.backend_timer);
  ex_.backend_timer = 0;
  if (upstream) worker_.upstreams().Release(upstream, reusable);
}

void Http1Connection::OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) {
  if (&upstream != ex_.upstream) return;
  std::string pending = upstream.TakeUnsent();
  ex_.upstream = nullptr;
  if (static_cast<int>(ex_.tried.size()) < kMaxConnectAttempts &&
      ex_.tried.size() < ex_.endpoints->endpoints.size()) {
    spdlog::debug("upstream {} connect {}; retrying another endpoint", upstream.endpoint(),
                  timed_out ? "timed out" : "failed");
    ConnectUpstream(std::move(pending));
    return;
  }
  FailExchange(timed_out ? 504 : 502,
               std::string("upstream connect ") + (timed_out ? "timeout" : "failed"));
}

void Http1Connection::OnUpstreamDrained(UpstreamConnection&) {
  // The upstream took our buffered request body: read more from the client.
  Process();
  ReadInput();
}

void Http1Connection::OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) {
  if (&upstream != ex_.upstream) return;
  for (;;) {
    http::Step step = upstream.parser().Parse(upstream.input().view());
    switch (step.kind) {
      case http::StepKind::kNeedMore:
        upstream.input().Consume(step.consumed);
        goto drained;
      case http::StepKind::kHeadComplete:
        if (upstream.parser().head().status < 200) {
          ex_.interim = true;  // 1xx: we answered 100 Continue ourselves
        } else {
          OnResponseHead();
        }
        upstream.input().Consume(step.consumed);
        break;
      case http::StepKind::kBodyData:
        ex_.log.bytes_out += step.body.size();
        if (ex_.response_chunked) {
          http::AppendChunk(step.body, out_.Tail());
        } else {
          out_.Append(step.body);
        }
        upstream.input().Consume(step.consumed);
        break;
      case http::StepKind::kMessageComplete:
        if (ex_.interim) {
          ex_.interim = false;
          upstream.input().Consume(step.consumed);
          upstream.parser().ExpectResponseTo(ex_.request.method);
          break;
        }
        if (ex_.response_chunked) {
          http::AppendLastChunk(ToHeaders(upstream.parser().trailers()), out_.Tail());
        }
        upstream.input().Consume(step.consumed);
        OnResponseComplete(upstream);
        return;
      case http::StepKind::kError:
        worker_.upstreams().Report(upstream.endpoint(), true);
        FailExchange(502, "bad upstream response: " +
                              std::string(http::ParseErrorName(upstream.parser().error())));
        return;
    }
  }
drained:
  if (eof) {
    http::Step step = upstream.parser().OnEof();
    if (step.kind == http::StepKind::kMessageComplete && ex_.response_started) {
      if (ex_.response_chunked) http::AppendLastChunk({}, out_.Tail());
      ex_.upstream_keep_alive = false;
      OnResponseComplete(upstream);
      return;
    }
    bool nothing_received = !ex_.response_started && !ex_.interim && upstream.input().empty();
    if (nothing_received && upstream.reused() && ex_.replay_complete && !ex_.retried_stale) {
      // The pooled connection was closed by the upstream as we reused it: try a new one.
      ex_.retried_stale = true;
      DetachUpstream(false);
      ex_.tried.clear();
      ConnectUpstream(ex_.replay);
      return;
    }
    worker_.upstreams().Report(upstream.endpoint(), true);
    FailExchange(502, error ? "upstream reset" : "upstream closed early");
    return;
  }
  Flush();
  if (ex_.upstream && out_.size() >= kHighWater) ex_.upstream->SetReadPaused(true);
}

void Http1Connection::OnResponseHead() {
  UpstreamConnection& upstream = *ex_.upstream;
  const http::ResponseHeadView& view = upstream.parser().head();
  http::ResponseHead response = http::ToResponseHead(view);
  ex_.upstream_keep_alive = view.keep_alive;
  ex_.log.status = response.status;
  ex_.log.upstream_duration_ms = MillisSince(ex_.upstream_started);
  worker_.upstreams().Report(upstream.endpoint(), response.status >= 500);
  routing::ApplyResponseFilters(ex_.filters, response);
  http::StripHopByHop(response.headers);
  switch (view.framing) {
    case http::BodyFraming::kContentLength:
      response.headers.Set("Content-Length", std::to_string(view.content_length));
      break;
    case http::BodyFraming::kChunked:
    case http::BodyFraming::kUntilClose:
      if (ex_.request.version_minor >= 1) {
        response.headers.Set("Transfer-Encoding", "chunked");
        ex_.response_chunked = true;
      } else {
        ex_.response_until_close = true;
        ex_.keep_alive = false;
      }
      break;
    case http::BodyFraming::kNone:
      break;
  }
  if (!ex_.keep_alive || peer_closed_) response.headers.Set("Connection", "close");
  response.version_minor = 1;
  http::AppendResponseHead(response, out_.Tail());
  ex_.response_started = true;
}

void Http1Connection::OnResponseComplete(UpstreamConnection& upstream) {
  bool reusable = ex_.upstream_keep_alive && ex_.request_done && upstream.input().empty();
  if (!ex_.request_done) {
    // The upstream answered before the request body ended: stop forwarding it.
    ex_.discard_body = true;
    ex_.keep_alive = false;
  }
  DetachUpstream(reusable);
  ex_.response_done = true;
  Flush();
  MaybeFinishExchange();
}

void Http1Connection::MaybeFinishExchange() {
  if (!ex_.active || !ex_.response_done) return;
  if (!ex_.request_done && !ex_.discard_body) return;
  if (!ex_.request_done && ex_.discard_body) {
    // Not keeping the connection: no need to read the rest of the body.
    ex_.request_done = true;
  }
  FinishExchange();
}

void Http1Connection::FinishExchange() {
  if (!ex_.active) return;
  EventLoop& loop = worker_.loop();
  loop.CancelTimer(ex_.request_timer);
  loop.CancelTimer(ex_.backend_timer);
  ex_.request_timer = ex_.backend_timer = 0;
  for (Mirror* mirror : ex_.mirrors) mirror->Detach();
  ex_.mirrors.clear();
  ex_.log.duration_ms = MillisSince(ex_.started);
  AccessLog::Write(ex_.log);
  bool keep_alive = ex_.keep_alive && !peer_closed_;
  ex_ = Exchange();
  if (!keep_alive) {
    CloseAfterWrite();
    return;
  }
  ArmIdleTimer(worker_.options().idle_timeout);
  // Serve the next pipelined request, if any, once this call stack unwinds.
  worker_.loop().Defer([this, alive = &closed_] {
    (void)alive;
    if (closed_) return;
    if (!in_.empty()) Process();
    ReadInput();
  });
}

void Http1Connection::Flush() {
  if (closed_) return;
  size_t before = out_.size();
  Transport::Io io = transport_->Write(out_);
  if (io == Transport::Io::kError) {
    CloseNow();
    return;
  }
  if (out_.empty() && closing_ && !lingering_) {
    // Everything is written: half-close and drain what the client still sends, so the
    // kernel does not reset the connection before the client reads our answer.
    lingering_ = true;
    transport_->ShutdownWrite();
    worker_.loop().CancelTimer(idle_timer_);
    idle_timer_ = worker_.loop().AddTimer(std::chrono::seconds(2), [this] {
      idle_timer_ = 0;
      CloseNow();
    });
    ReadInput();
    return;
  }
  if (before >= kHighWater && out_.size() < kHighWater) {
    if (ex_.upstream) ex_.upstream->SetReadPaused(false);
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
  if (ex_.active) {
    ex_.log.duration_ms = MillisSince(ex_.started);
    if (ex_.log.status == 0 && ex_.log.error.empty()) ex_.log.error = "connection closed";
    if (!ex_.log.method.empty() || ex_.log.status) AccessLog::Write(ex_.log);
    ex_.active = false;
  }
  worker_.Close(this);
}

}  // namespace xgate::proxy
