// Exchange: choosing the backend and endpoint, and trying again elsewhere when an attempt
// fails before any response byte.
#include <algorithm>

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/exchange.h"

namespace xgate::proxy {
namespace {

constexpr size_t kMaxAttempts = 5;  // endpoints tried for one request

}  // namespace

bool Exchange::Idempotent(std::string_view method) {
  // RFC 9110 9.2.2.
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

bool Exchange::BackendUsable(const api::WeightedCluster& backend, bool skip_ejected,
                             bool invalid_ok) const {
  if (backend.cluster().empty()) return invalid_ok;  // its share is answered 500
  const ClusterEndpoints* endpoints = config_->cluster(backend.cluster());
  return endpoints != nullptr && worker_.upstreams().HasCandidate(*endpoints, tried_, skip_ejected);
}

std::string Exchange::PrepareBackend(const api::WeightedCluster& backend, bool first) {
  http::RequestHead& head = request_.head;
  if (!first) head = route_head_ ? *route_head_ : http::RequestHead();
  filters_.response_modifiers.resize(route_response_modifiers_);
  if (!backend.filters().empty()) {  // most backends have none: no outcome to make
    routing::FilterOutcome backend_filters =
        routing::ApplyRequestFilters(backend.filters(), context_, head, worker_.rng());
    if (first) {
      for (auto& name : backend_filters.mirror_clusters) filters_.mirror_clusters.push_back(name);
    }
    for (auto* modifier : backend_filters.response_modifiers) {
      filters_.response_modifiers.push_back(modifier);
    }
  }
  cluster_ = backend.cluster();
  if (AccessLog::Enabled()) log_.cluster = cluster_;
  endpoints_ = config_->cluster(cluster_);

  // Mirrors to HTTP/2 clusters pass "TE: trailers" on too.
  if ((endpoints_ && endpoints_->h2c) || !filters_.mirror_clusters.empty()) {
    std::optional<std::string> te = head.headers.GetJoined("TE");
    te_trailers_ = te && te->find("trailers") != std::string::npos;
  }
  http::StripHopByHop(head.headers);
  if (!request_.upgrade.empty()) {  // hop-by-hop, but what the backend must see to upgrade
    head.headers.Set("Connection", "Upgrade");
    head.headers.Set("Upgrade", request_.upgrade);
  }
  // (A map that holds no hop field has no Content-Length: no pass to look for one.)
  if (head.headers.may_hold_hop_fields()) head.headers.Remove("Content-Length");
  routing::ApplyForwardedHeaders(context_, head);
  if (request_.content_length) {
    head.headers.Set("Content-Length", std::to_string(*request_.content_length));
  } else if (request_.has_body && !(endpoints_ && endpoints_->h2c)) {
    head.headers.Set("Transfer-Encoding", "chunked");
    chunked_upstream_ = true;
  }
  if (endpoints_ && endpoints_->h2c) {
    // Its requests go as HEADERS made from the head (H2Session::Submit): no HTTP/1.1 bytes
    // (what is replayed is then the body alone).
    head_size_ = 0;
    return {};
  }
  std::string bytes;
  http::AppendRequestHead(head, &bytes);
  head_size_ = bytes.size();
  return bytes;
}

bool Exchange::ConnectUpstream(std::string_view pending, bool skip_ejected) {
  if (endpoints_->h2c)
    return ConnectH2(pending.substr(std::min(head_size_, pending.size())), skip_ejected);
  std::string error;
  upstream_ = worker_.upstreams().Acquire(cluster_, *endpoints_, tried_, this,
                                          /*allow_reuse=*/!retried_stale_, &error, skip_ejected,
                                          PreferredEndpoint());
  if (upstream_ == nullptr) return NoUpstream(error);
  NoteEndpoint(upstream_->endpoint());
  upstream_->parser().ExpectResponseTo(request_.head.method);
  upstream_->Send(pending);
  return true;
}

int Exchange::PreferredEndpoint() const {
  if (!session_ || cluster_ != compiled_route_->route->backends(session_->backend).cluster()) {
    return -1;
  }
  return session_->endpoint;
}

void Exchange::AddSession(http::ResponseHead& response, const std::string& endpoint) const {
  if (session_config_ == nullptr) return;
  // The config made each endpoint's tag (a MAC) once; the answer need not make it again.
  const ClusterEndpoints* endpoints = endpoints_;  // cluster_'s, found by PrepareBackend
  if (endpoints == nullptr) return;
  for (size_t i = 0; i < endpoints->keys.size() && i < endpoints->session_tags.size(); ++i) {
    if (endpoints->keys[i] != endpoint) continue;
    AddSessionToResponse(SessionCodec::Process(), *session_config_, session_,
                         endpoints->session_tags[i], request_.tls, SessionCodec::NowMs(),
                         response.headers);
    return;
  }
}

bool Exchange::NoUpstream(const std::string& error) {
  std::string why = "upstream connect failed: " + error;
  if (!PolicyRetry(worker_.stats().Cluster(cluster_), stats::RetryReason::kConnect, why)) {
    Fail(503, std::move(why));
  }
  return false;
}

void Exchange::NoteEndpoint(const std::string& endpoint) {
  tried_.push_back(endpoint);
  log_.endpoint = endpoint;
}

// Healthy endpoints first: the backend's own, then the rule's other backends by weight; then
// ejected ones, which may have come back. `pending` starts with the head sent so far.
void Exchange::Retry(stats::ClusterStats& failed, std::string pending, int status, std::string why,
                     stats::RetryReason reason) {
  UpstreamPool& pool = worker_.upstreams();
  if (tried_.size() >= kMaxAttempts) {
    if (!PolicyRetry(failed, reason, why)) Fail(status, std::move(why));
    return;
  }
  auto refused = [&] {
    if (AdmitRetry()) return false;
    Fail(status, why + "; retry budget exhausted");
    return true;
  };
  for (bool skip_ejected : {true, false}) {
    if (pool.HasCandidate(*endpoints_, tried_, skip_ejected)) {
      if (refused()) return;
      failed.retries.Add();
      spdlog::debug("{} on {}; trying another endpoint of {}", why, log_.endpoint, cluster_);
      ConnectUpstream(pending, skip_ejected);
      return;
    }
    if (compiled_route_->route->backends_size() < 2) continue;
    const api::WeightedCluster* other =
        routing::PickBackend(*compiled_route_, worker_.rng(), [&](const api::WeightedCluster& b) {
          return BackendUsable(b, skip_ejected, /*invalid_ok=*/false);
        });
    if (other == nullptr) continue;
    if (refused()) return;
    failed.retries.Add();
    spdlog::debug("{} on {}; trying backend {}", why, log_.endpoint, other->cluster());
    size_t old_head = head_size_;
    std::string head = SwitchBackend(*other);
    ConnectUpstream(head + pending.substr(std::min(old_head, pending.size())), skip_ejected);
    return;
  }
  if (!PolicyRetry(failed, reason, why)) Fail(status, std::move(why));
}

std::string Exchange::SwitchBackend(const api::WeightedCluster& other) {
  size_t old_head = head_size_;
  std::string head = PrepareBackend(other, /*first=*/false);
  if (replay_complete_) replay_ = head + replay_.substr(std::min(old_head, replay_.size()));
  return head;
}

void Exchange::OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) {
  if (&upstream != upstream_) return;
  // Nothing reached the upstream: any request may be tried elsewhere.
  std::string pending = upstream.TakeUnsent();
  upstream_ = nullptr;
  // A backend whose certificate does not verify is a bad gateway, as a broken answer is.
  Retry(upstream.cluster_stats(), std::move(pending), upstream.tls_failed() ? 502 : 503,
        upstream.tls_failed()
            ? std::string("upstream TLS handshake failed")
            : std::string("upstream connect ") + (timed_out ? "timeout" : "failed"),
        stats::RetryReason::kConnect);
}

}  // namespace xgate::proxy
