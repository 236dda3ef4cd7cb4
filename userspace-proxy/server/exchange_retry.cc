// Exchange: the HTTPRoute rule's retry policy (Gateway API HTTPRouteRetry). A response with a
// listed status, a connect failure or a reset with no endpoint left to fail over to, or a
// backend request timeout, is tried again after the backoff (doubled for each retry, at most
// ten times the configured one), at most `attempts` times, while the request timeout runs.
#include <algorithm>

#include "spdlog/spdlog.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/exchange.h"

namespace xgate::proxy {
namespace {

std::chrono::milliseconds Backoff(const api::Retry& retry, uint32_t retry_number) {
  uint64_t base = retry.backoff_ms();
  uint64_t delay = base << std::min<uint32_t>(retry_number - 1, 16);
  return std::chrono::milliseconds(std::min(delay, base * 10));
}

}  // namespace

bool Exchange::CanRetry() const {
  // The whole request must be at hand to send it again.
  return retry_ != nullptr && retries_ < retry_->attempts() && replay_complete_ && !finished_ &&
         !response_started_;
}

bool Exchange::RetryOnStatus(UpstreamConnection& upstream) {
  if (!request_done_ || !CanRetry()) return false;
  int status = upstream.parser().head().status;
  const auto& codes = retry_->codes();
  if (std::find(codes.begin(), codes.end(), static_cast<uint32_t>(status)) == codes.end()) {
    return false;
  }
  worker_.upstreams().Report(upstream, status >= 500);
  stats::ClusterStats& failed = upstream.cluster_stats();
  interim_ = false;
  DetachUpstream(false);  // the rest of this answer is not read
  return PolicyRetry(failed, stats::RetryReason::kStatus,
                     "upstream answered " + std::to_string(status));
}

bool Exchange::AdmitRetry() {
  if (!worker_.retry_budget().Admit(holds_retry_slot_)) {
    worker_.stats().RetryBudgetExhausted();
    return false;
  }
  holds_retry_slot_ = true;
  return true;
}

void Exchange::LeaveRetryBudget() {
  if (!in_retry_budget_) return;
  in_retry_budget_ = false;
  worker_.retry_budget().RequestEnded();
  if (holds_retry_slot_) worker_.retry_budget().Release();
  holds_retry_slot_ = false;
}

bool Exchange::PolicyRetry(stats::ClusterStats& failed, stats::RetryReason reason,
                           std::string_view why) {
  if (!CanRetry() || !AdmitRetry()) return false;
  ++retries_;
  failed.retries.Add();
  worker_.stats().RouteRetried(route_name_, reason);
  std::chrono::milliseconds backoff = Backoff(*retry_, retries_);
  spdlog::debug("{} on {}; retry {} of {} in {} ms", why, log_.endpoint, retries_,
                retry_->attempts(), backoff.count());
  retry_timer_ = worker_.loop().AddTimer(backoff, [this] {
    retry_timer_ = 0;
    RetryAttempt();
  });
  return true;
}

// Another endpoint of the backend when one is left untried, else another backend of the rule,
// else the same endpoints again.
void Exchange::RetryAttempt() {
  if (finished_) return;
  if (!replay_complete_) {  // the body grew past what is kept while waiting
    Fail(502, "request too large to retry");
    return;
  }
  if (!worker_.upstreams().HasCandidate(*endpoints_, tried_, /*skip_ejected=*/false)) {
    const api::WeightedCluster* other = nullptr;
    if (compiled_route_->route->backends_size() > 1) {
      other =
          routing::PickBackend(*compiled_route_, worker_.rng(), [&](const api::WeightedCluster& b) {
            return b.cluster() != cluster_ && BackendUsable(b, false, /*invalid_ok=*/false);
          });
    }
    if (other != nullptr) {
      SwitchBackend(*other);
    } else {
      tried_.clear();
    }
  }
  upstream_started_ = worker_.loop().Now();
  ArmBackendTimer();
  ConnectUpstream(replay_, /*skip_ejected=*/false);
}

void Exchange::ArmBackendTimer() {
  uint64_t timeout_ms = compiled_route_->route->backend_request_timeout_ms();
  if (timeout_ms == 0) return;
  backend_timer_ = worker_.loop().AddTimer(std::chrono::milliseconds(timeout_ms), [this] {
    backend_timer_ = 0;
    OnBackendTimeout();
  });
}

// The spec: an attempt that reaches the backendRequest timeout is cancelled and, the policy
// allowing, tried again after the backoff. Only when sending it again is safe.
void Exchange::OnBackendTimeout() {
  if (upstream_ != nullptr && CanRetry() &&
      (Idempotent(request_.head.method) || !upstream_->wrote_anything())) {
    worker_.upstreams().Report(*upstream_, true);
    stats::ClusterStats& failed = upstream_->cluster_stats();
    DetachUpstream(false);
    PolicyRetry(failed, stats::RetryReason::kTimeout, "backend request timeout");
    return;
  }
  if (h2_ != nullptr && CanRetry() && (Idempotent(request_.head.method) || !h2_->headers_sent())) {
    worker_.upstreams().Report(h2_->connection(), true);
    stats::ClusterStats& failed = h2_->connection().cluster_stats();
    DetachUpstream(false);
    PolicyRetry(failed, stats::RetryReason::kTimeout, "backend request timeout");
    return;
  }
  Fail(504, "backend request timeout");
}

}  // namespace xgate::proxy
