#include "userspace-proxy/server/exchange.h"

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/grpc_status.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/mirror.h"

namespace xgate::proxy {
namespace {

constexpr size_t kMaxReplay = 64 * 1024;  // request bytes kept to retry a stale connection

}  // namespace

double Exchange::MillisSince(Clock::time_point start) const {
  return std::chrono::duration<double, std::milli>(worker_.loop().Now() - start).count();
}

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

Exchange::Exchange(Worker& worker, ExchangeOwner& owner)
    : worker_(worker), owner_(owner), started_(worker.loop().Now()) {
  worker_.retry_budget().RequestStarted();
}

Exchange::~Exchange() {
  LeaveRetryBudget();
  EventLoop& loop = worker_.loop();
  loop.CancelTimer(request_timer_);
  loop.CancelTimer(backend_timer_);
  loop.CancelTimer(retry_timer_);
  if (upstream_) worker_.upstreams().Release(upstream_, false);
  if (h2_) h2_->Cancel();
  for (Mirror* mirror : mirrors_) mirror->Detach();
}

void Exchange::Start() {
  request_done_ = !request_.has_body;
  if (AccessLog::Enabled()) {
    log_.client = request_.client;
    log_.protocol = request_.protocol;
    log_.method = request_.head.method;
    log_.authority = request_.head.host;
    log_.path = request_.head.path;
  }
  Route();
}

void Exchange::Route() {
  config_ = worker_.config();
  const Config& config = *config_;
  http::RequestHead& head = request_.head;

  routing::MatchInput input;
  input.local_address = request_.local_ip;
  input.local_port = request_.local_port;
  input.sni = request_.sni;
  input.request = &head;
  routing::RouteDecision decision = config.table().Match(input);
  if (decision.route) {
    route_name_ = decision.route->name;
    if (AccessLog::Enabled()) log_.route = route_name_;
    log_.rule_index = static_cast<int>(decision.route->route->rule_index());
  }
  switch (decision.outcome) {
    case routing::RouteDecision::Outcome::kNoPort:
    case routing::RouteDecision::Outcome::kNoListener:
    case routing::RouteDecision::Outcome::kNotFound:
      Reply(404, "no route\n", "no route");
      return;
    case routing::RouteDecision::Outcome::kNoBackend:
      Reply(500, "no valid backend\n", "no valid backend");
      return;
    case routing::RouteDecision::Outcome::kRouted:
      break;
  }
  const routing::CompiledRoute& compiled = *decision.route;
  const api::Route& route = *compiled.route;

  routing::RequestContext context;
  context.scheme = request_.tls ? "https" : "http";
  context.listener_port = request_.local_port;
  context.client_address = request_.client_ip;
  if (route.match().path().type() == api::PathMatch::PATH_PREFIX) {
    context.matched_prefix = route.match().path().value();
  }
  const ProxyLimits& limits = worker_.options().limits;
  if (limits.max_request_body > 0 && request_.content_length &&
      *request_.content_length > limits.max_request_body) {
    Reply(413, "request body too large\n", "request body too large");
    return;
  }
  EventLoop& loop = worker_.loop();
  std::chrono::milliseconds request_timeout =
      route.request_timeout_ms() > 0 ? std::chrono::milliseconds(route.request_timeout_ms())
                                     : limits.request_timeout;
  if (request_timeout.count() > 0) {
    request_timer_ = loop.AddTimer(request_timeout, [this] {
      request_timer_ = 0;
      Fail(504, "request timeout");
    });
  }

  routing::ApplyRequestFilters(route.filters(), context, head, worker_.rng(), filters_);
  if (filters_.local) {  // a CORS preflight the route's filter answers
    log_.status = filters_.local->status;
    response_started_ = true;
    owner_.ResponseHead(*filters_.local, ResponseBody::kContentLength, 0);
    owner_.ResponseEnd({});
    Finish();
    return;
  }
  if (filters_.redirect) {
    log_.status = filters_.redirect->status;
    http::ResponseHead response;
    response.status = filters_.redirect->status;
    response.headers.Set("Location", filters_.redirect->location);
    response_started_ = true;
    owner_.ResponseHead(response, ResponseBody::kContentLength, 0);
    owner_.ResponseEnd({});
    Finish();
    return;
  }
  compiled_route_ = &compiled;
  if (route.has_retry()) retry_ = &route.retry();
  context_ = context;
  if (route.backends_size() > 1) route_head_ = head;  // to prepare another backend on retry
  route_response_modifiers_ = filters_.response_modifiers.size();
  const api::WeightedCluster* backend = nullptr;
  if (route.has_session_persistence()) {  // a session goes to its backend, whatever the weights
    session_config_ = &route.session_persistence();
    const UpstreamPool& pool = worker_.upstreams();
    session_ =
        ResolveSession(SessionCodec::Process(), route, config, head.headers, SessionCodec::NowMs(),
                       [&pool](const std::string& e) { return pool.Ejected(e); });
    if (session_) backend = &route.backends(session_->backend);
  }
  // Backends whose endpoints are all ejected get no share while another is left.
  if (backend == nullptr && route.backends_size() > 1) {
    backend = routing::PickBackend(compiled, worker_.rng(), [this](const api::WeightedCluster& b) {
      return BackendUsable(b, /*skip_ejected=*/true, /*invalid_ok=*/true);
    });
  }
  if (backend == nullptr) backend = routing::PickBackend(compiled, worker_.rng());
  if (backend == nullptr || backend->cluster().empty()) {
    Reply(500, "no valid backend\n", "invalid backend");
    return;
  }
  std::string bytes = PrepareBackend(*backend, /*first=*/true);
  if (endpoints_ == nullptr || endpoints_->endpoints.empty()) {
    Reply(503, "no healthy upstream\n", "no endpoints");
    return;
  }

  for (const std::string& mirror_cluster : filters_.mirror_clusters) {
    const ClusterEndpoints* endpoints = config.cluster(mirror_cluster);
    if (endpoints == nullptr) continue;
    if (Mirror* mirror = Mirror::Start(worker_, mirror_cluster, *endpoints, head, request_.has_body,
                                       te_trailers_)) {
      mirrors_.push_back(mirror);
    }
  }

  forwarding_ = true;
  replay_ = std::move(bytes);
  upstream_started_ = worker_.loop().Now();
  ArmBackendTimer();
  ConnectUpstream(replay_, /*skip_ejected=*/false);
}

void Exchange::SendUpstream(std::string_view bytes) {
  if (replay_complete_) {
    if (replay_.size() + bytes.size() <= kMaxReplay) {
      replay_.append(bytes);
    } else {
      replay_complete_ = false;
      replay_.clear();
    }
  }
  if (upstream_) upstream_->Send(bytes);
  if (h2_) h2_->SendData(bytes);
}

void Exchange::RequestData(std::string_view data) {
  log_.bytes_in += data.size();
  if (!forwarding_ || finished_ || data.empty()) return;
  uint64_t max_body = worker_.options().limits.max_request_body;
  if (max_body > 0 && log_.bytes_in > max_body) {
    Fail(413, "request body too large");
    return;
  }
  for (Mirror* mirror : mirrors_) mirror->Send(data);  // each frames the body its own way
  if (chunked_upstream_) {
    std::string chunk;
    http::AppendChunk(data, &chunk);
    SendUpstream(chunk);
  } else {
    SendUpstream(data);
  }
}

void Exchange::RequestEnd(const std::vector<http::Header>& trailers) {
  if (request_done_) return;
  request_done_ = true;
  if (forwarding_ && !finished_) {
    for (Mirror* mirror : mirrors_) mirror->End(trailers);
  }
  if (forwarding_ && !finished_ && endpoints_ && endpoints_->h2c) {
    request_trailers_ = trailers;
    if (h2_) h2_->EndRequest(trailers);
  } else if (forwarding_ && !finished_ && chunked_upstream_) {
    std::string last;
    http::AppendLastChunk(trailers, &last);
    SendUpstream(last);
  }
}

bool Exchange::request_paused() const {
  size_t high = worker_.upstreams().high_water();
  return (upstream_ && upstream_->pending_output() >= high) ||
         (h2_ && h2_->pending_request() >= high);
}

void Exchange::Reply(int status, std::string_view body, std::string error) {
  if (finished_) return;
  if (response_started_) {
    log_.error = std::move(error);
    owner_.ResponseAbort();
    Finish();
    return;
  }
  forwarding_ = false;
  if (upstream_ || h2_) DetachUpstream(false);
  if (GrpcOverHttp2()) {
    ReplyGrpc(status, body, std::move(error));
    return;
  }
  log_.status = status;
  log_.error = std::move(error);
  log_.bytes_out = body.size();
  http::ResponseHead response;
  response.status = status;
  if (!body.empty()) response.headers.Set("Content-Type", "text/plain");
  response_started_ = true;
  owner_.ResponseHead(response, ResponseBody::kContentLength, body.size());
  if (!body.empty()) owner_.ResponseData(body);
  owner_.ResponseEnd({});
  Finish();
}

bool Exchange::GrpcOverHttp2() const {
  auto content_type = request_.head.headers.Get("content-type");
  return request_.protocol == "HTTP/2" && content_type && http::IsGrpcContentType(*content_type);
}

// A gRPC client over HTTP/2 reads grpc-status: a trailers-only answer (HTTP 200, one HEADERS
// frame that ends the stream). The access log keeps the HTTP status the proxy meant.
void Exchange::ReplyGrpc(int status, std::string_view body, std::string error) {
  log_.status = status;
  log_.error = std::move(error);
  http::ResponseHead response;
  response.status = 200;
  response.headers.Set("content-type", "application/grpc");
  response.headers.Set("grpc-status", std::to_string(http::GrpcStatusForHttp(status)));
  while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  response.headers.Set("grpc-message", http::GrpcPercentEncode(body));
  response_started_ = true;
  owner_.ResponseHead(response, ResponseBody::kNone, 0);
  owner_.ResponseEnd({});
  Finish();
}

void Exchange::Fail(int status, std::string error) {
  if (finished_) return;
  if (upstream_ || h2_) DetachUpstream(false);
  std::string body(http::ReasonPhrase(status));
  Reply(status, body.empty() ? body : body + "\n", std::move(error));
}

void Exchange::ClientGone(std::string why) {
  if (finished_) return;
  forwarding_ = false;
  worker_.loop().CancelTimer(retry_timer_);
  retry_timer_ = 0;
  if (upstream_ || h2_) DetachUpstream(false);
  if (log_.error.empty()) log_.error = std::move(why);
  finished_ = true;
  LeaveRetryBudget();
  log_.duration_ms = MillisSince(started_);
  RecordStats();
  AccessLog::Write(log_);
}

void Exchange::RecordStats() {
  if (log_.status == 0) return;  // the client left before any answer: no request to count
  stats::WorkerStats& stats = worker_.stats();
  stats.CountRequest(route_name_, cluster_, log_.status);
  stats.ObserveLatency(route_name_, log_.duration_ms / 1000);
}

void Exchange::DetachUpstream(bool reusable) {
  UpstreamConnection* upstream = upstream_;
  upstream_ = nullptr;
  worker_.loop().CancelTimer(backend_timer_);
  backend_timer_ = 0;
  if (upstream) worker_.upstreams().Release(upstream, reusable);
  if (H2UpstreamStream* stream = std::exchange(h2_, nullptr)) stream->Cancel();
}

void Exchange::OnUpstreamDrained(UpstreamConnection&) { owner_.RequestBodyDrained(); }

void Exchange::ResumeResponse() {
  if (upstream_) upstream_->SetReadPaused(false);
  if (h2_) h2_->ResumeResponse();
}

void Exchange::OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) {
  if (&upstream != upstream_) return;
  bool more = true;
  while (more) {
    http::Step step = upstream.parser().Parse(upstream.input().view());
    switch (step.kind) {
      case http::StepKind::kNeedMore:
        upstream.input().Consume(step.consumed);
        more = false;
        break;
      case http::StepKind::kHeadComplete:
        if (upstream.parser().head().status == 101 && !request_.upgrade.empty()) {
          upstream.input().Consume(step.consumed);
          OnSwitchingProtocols(upstream);
          return;
        }
        if (upstream.parser().head().status < 200) {
          interim_ = true;  // 1xx: a 100 Continue was answered to the client already
        } else if (RetryOnStatus(upstream)) {
          return;
        } else {
          OnResponseHead(upstream);
        }
        upstream.input().Consume(step.consumed);
        break;
      case http::StepKind::kBodyData:
        log_.bytes_out += step.body.size();
        owner_.ResponseData(step.body);
        upstream.input().Consume(step.consumed);
        break;
      case http::StepKind::kMessageComplete:
        if (interim_) {
          interim_ = false;
          upstream.input().Consume(step.consumed);
          upstream.parser().ExpectResponseTo(request_.head.method);
          break;
        }
        {
          std::vector<http::Header> trailers = ToHeaders(upstream.parser().trailers());
          upstream.input().Consume(step.consumed);
          OnResponseComplete(upstream, trailers);
        }
        return;
      case http::StepKind::kError:
        worker_.upstreams().Report(upstream, true);
        Fail(502, "bad upstream response: " +
                      std::string(http::ParseErrorName(upstream.parser().error())));
        return;
    }
  }
  if (eof) {
    http::Step step = upstream.parser().OnEof();
    if (step.kind == http::StepKind::kMessageComplete && response_started_) {
      upstream_keep_alive_ = false;
      OnResponseComplete(upstream, {});
      return;
    }
    bool nothing_received = !response_started_ && !interim_ && upstream.input().empty();
    // Idempotent (RFC 9110 9.2.2), or never sent: safe to send again.
    bool retriable = nothing_received && replay_complete_ &&
                     (Idempotent(request_.head.method) || !upstream.wrote_anything());
    // Aborted by the kernel (nothing acknowledged): the peer went silent; no keep-alive race
    // to send again into, and a timeout in its passive health.
    bool silent = upstream.timed_out();
    if (retriable && upstream.reused() && !retried_stale_ && !silent) {
      // The pooled connection was closed by the upstream as we reused it: the request is
      // sent again on a new connection.
      retried_stale_ = true;
      DetachUpstream(false);
      tried_.clear();
      ConnectUpstream(replay_, /*skip_ejected=*/false);
      return;
    }
    worker_.upstreams().Report(upstream, true);
    std::string why = silent  ? "upstream timeout (nothing acknowledged)"
                      : error ? "upstream reset"
                              : "upstream closed early";
    int status = silent ? 504 : 502;
    if (retriable) {
      // Broke before any response byte: tried elsewhere.
      stats::ClusterStats& failed = upstream.cluster_stats();
      upstream_ = nullptr;
      worker_.upstreams().Release(&upstream, false);
      Retry(failed, std::string(replay_), status, std::move(why),
            silent ? stats::RetryReason::kTimeout : stats::RetryReason::kReset);
      return;
    }
    Fail(status, why);
    return;
  }
  if (upstream_ && owner_.ResponseBuffered() >= worker_.upstreams().high_water())
    upstream_->SetReadPaused(true);
}

void Exchange::OnResponseHead(UpstreamConnection& upstream) {
  const http::ResponseHeadView& view = upstream.parser().head();
  // Without its hop-by-hop fields and Content-Length already, unless a filter adds them.
  // Its fields point into upstream.input(), consumed only after this call.
  http::ResponseHead response = http::ToForwardedResponseHead(view);
  upstream_keep_alive_ = view.keep_alive;
  log_.status = response.status;
  log_.upstream_duration_ms = MillisSince(upstream_started_);
  upstream.cluster_stats().upstream_duration.Observe(log_.upstream_duration_ms / 1000);
  worker_.upstreams().Report(upstream, response.status >= 500);
  routing::ApplyResponseFilters(filters_, response);
  AddSession(response, upstream.endpoint());
  http::StripHopByHop(response.headers);
  ResponseBody body = ResponseBody::kNone;
  if (view.framing != http::BodyFraming::kNone) {
    body = view.framing == http::BodyFraming::kContentLength ? ResponseBody::kContentLength
                                                             : ResponseBody::kStream;
    // (A map that holds no hop field has no Content-Length: no pass to look for one.)
    if (response.headers.may_hold_hop_fields()) response.headers.Remove("Content-Length");
  }
  response_started_ = true;
  owner_.ResponseHead(response, body, view.content_length);
}

void Exchange::OnResponseComplete(UpstreamConnection& upstream,
                                  const std::vector<http::Header>& trailers) {
  // Reusable only when the upstream read the whole request and said nothing more.
  bool reusable = upstream_keep_alive_ && request_done_ && upstream.input().empty();
  forwarding_ = false;
  DetachUpstream(reusable);
  owner_.ResponseEnd(trailers);
  Finish();
}

void Exchange::Finish() {
  if (finished_) return;
  finished_ = true;
  LeaveRetryBudget();
  forwarding_ = false;
  EventLoop& loop = worker_.loop();
  loop.CancelTimer(request_timer_);
  loop.CancelTimer(backend_timer_);
  loop.CancelTimer(retry_timer_);
  request_timer_ = backend_timer_ = retry_timer_ = 0;
  for (Mirror* mirror : mirrors_) mirror->Detach();
  mirrors_.clear();
  log_.duration_ms = MillisSince(started_);
  RecordStats();
  AccessLog::Write(log_);
  config_.reset();  // a finished exchange kept until the next one must not pin old configs
  owner_.ExchangeFinished();
}

}  // namespace xgate::proxy
