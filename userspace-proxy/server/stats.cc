#include "userspace-proxy/server/stats.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace xgate::proxy::stats {

void Histogram::Observe(double seconds) {
  size_t i = std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), seconds) -
             kLatencyBounds.begin();
  buckets_[i].Add();
  sum_.store(sum_.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
}

void Histogram::AddTo(api::LatencyHistogram& out) const {
  if (out.bounds_size() == 0) {
    for (double bound : kLatencyBounds) out.add_bounds(bound);
    out.mutable_bucket_counts()->Resize(static_cast<int>(buckets_.size()), 0);
  }
  uint64_t count = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    uint64_t n = buckets_[i].Get();
    out.set_bucket_counts(static_cast<int>(i), out.bucket_counts(static_cast<int>(i)) + n);
    count += n;
  }
  // The count is the buckets' total, so +Inf and _count agree even mid-update.
  out.set_count(out.count() + count);
  out.set_sum(out.sum() + sum_.load(std::memory_order_relaxed));
}

std::string_view DownstreamProtocolName(DownstreamProtocol protocol) {
  switch (protocol) {
    case DownstreamProtocol::kHttp:
      return "http";
    case DownstreamProtocol::kHttps:
      return "https";
    case DownstreamProtocol::kTlsPassthrough:
      return "tls_passthrough";
    case DownstreamProtocol::kCount:
      break;
  }
  return "unknown";
}

std::string_view RetryReasonName(RetryReason reason) {
  switch (reason) {
    case RetryReason::kStatus:
      return "status";
    case RetryReason::kConnect:
      return "connect";
    case RetryReason::kReset:
      return "reset";
    case RetryReason::kTimeout:
      return "timeout";
    case RetryReason::kCount:
      break;
  }
  return "unknown";
}

void WorkerStats::RouteRetried(std::string_view route, RetryReason reason) {
  RetryCounters& counters =
      route_retries_.FindOrAdd(route, [](std::string_view r) { return std::string(r); });
  counters[static_cast<size_t>(reason)].Add();
}

std::string_view TlsFailureName(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::kProtocolVersion:
      return "protocol_version";
    case TlsFailure::kNoCertificate:
      return "no_certificate";
    case TlsFailure::kNoSharedCipher:
      return "no_shared_cipher";
    case TlsFailure::kClientCertificate:
      return "client_certificate";
    case TlsFailure::kClientAlert:
      return "client_alert";
    case TlsFailure::kEof:
      return "eof";
    case TlsFailure::kOther:
    case TlsFailure::kCount:
      break;
  }
  return "other";
}

TlsFailure ClassifyTlsFailure(bool eof) {
  unsigned long error = ERR_peek_error();
  ERR_clear_error();
  if (error == 0) return eof ? TlsFailure::kEof : TlsFailure::kOther;
  int reason = ERR_GET_REASON(error);
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return TlsFailure::kProtocolVersion;
    case SSL_R_CALLBACK_FAILED:  // the SNI callback found no listener for the name
    case SSL_R_NO_CERTIFICATE_SET:
      return TlsFailure::kNoCertificate;
    case SSL_R_NO_SHARED_CIPHER:
      return TlsFailure::kNoSharedCipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsFailure::kClientCertificate;
    default:
      break;
  }
  if (reason >= SSL_AD_REASON_OFFSET) return TlsFailure::kClientAlert;
  return TlsFailure::kOther;
}

void WorkerStats::CountRequest(std::string_view route, std::string_view backend, int code) {
  RequestKeyView key{route, backend, code};
  requests_
      .FindOrAdd(key,
                 [](const RequestKeyView& k) {
                   return RequestKey{std::string(k.route), std::string(k.backend), k.code};
                 })
      .Add();
}

void WorkerStats::ObserveLatency(std::string_view route, double seconds) {
  route_latency_.FindOrAdd(route, [](std::string_view r) { return std::string(r); })
      .Observe(seconds);
}

ClusterStats& WorkerStats::Cluster(std::string_view name) {
  return clusters_.FindOrAdd(name, [](std::string_view n) { return std::string(n); });
}

std::string_view H2AbuseName(H2Abuse kind) {
  switch (kind) {
    case H2Abuse::kRapidReset:
      return "rapid_reset";
    case H2Abuse::kContinuationFlood:
      return "continuation_flood";
    case H2Abuse::kSettingsFlood:
      return "settings_flood";
    case H2Abuse::kPingFlood:
      return "ping_flood";
    case H2Abuse::kEmptyFrames:
      return "empty_frames";
    case H2Abuse::kHpack:
      return "hpack";
    case H2Abuse::kHpackInvalid:
      return "hpack_invalid";
    case H2Abuse::kZeroWindow:
      return "zero_window";
    case H2Abuse::kOutboundFlood:
      return "outbound_flood";
    case H2Abuse::kCount:
      break;
  }
  return "unknown";
}

uint32_t H2AbuseCode(H2Abuse kind) {
  constexpr uint32_t kEnhanceYourCalm = 0x0b, kCompressionError = 0x09;
  return kind == H2Abuse::kHpackInvalid ? kCompressionError : kEnhanceYourCalm;
}

int64_t WorkerStats::DownstreamOpen() const {
  int64_t open = 0;
  for (const Gauge& gauge : downstream_open_) open += gauge.Get();
  return open;
}

Gauge& WorkerStats::DownstreamOpened(DownstreamProtocol protocol) {
  downstream_total_[static_cast<size_t>(protocol)].Add();
  Gauge& open = downstream_open_[static_cast<size_t>(protocol)];
  open.Add(1);
  return open;
}

namespace {

uint64_t NonNegative(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

}  // namespace

api::ProxyStats CollectStats(std::span<const WorkerStats* const> workers,
                             const std::set<std::string, std::less<>>& routes,
                             const std::set<std::string, std::less<>>& clusters) {
  auto known_route = [&](const std::string& r) { return r.empty() || routes.count(r) > 0; };
  auto known_cluster = [&](const std::string& c) { return c.empty() || clusters.count(c) > 0; };

  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests;
  std::map<std::string, api::LatencyHistogram> latency;
  struct ClusterSum {
    int64_t open = 0, idle = 0, active = 0;
    api::ProxyClusterStats out;
  };
  std::map<std::string, ClusterSum> cluster_sums;
  std::array<uint64_t, kParseErrors> refusals{};
  uint64_t tls_ok = 0;
  std::array<uint64_t, static_cast<size_t>(TlsFailure::kCount)> tls_failed{};
  std::array<uint64_t, static_cast<size_t>(DownstreamProtocol::kCount)> total{};
  std::array<int64_t, static_cast<size_t>(DownstreamProtocol::kCount)> open{};
  uint64_t h2_total = 0;
  int64_t h2_open = 0;
  std::array<uint64_t, static_cast<size_t>(H2Abuse::kCount)> abuse{};
  uint64_t overflow = 0;
  uint64_t budget_exhausted = 0;
  std::map<std::string, std::array<uint64_t, static_cast<size_t>(RetryReason::kCount)>> retries;
  uint64_t upgrades_total = 0;
  int64_t upgrades_open = 0;

  for (const WorkerStats* w : workers) {
    w->requests_.ForEach([&](const RequestKey& key, const Counter& count) {
      if (!known_route(key.route) || !known_cluster(key.backend)) return;
      requests[{key.route, key.backend, key.code}] += count.Get();
    });
    w->route_latency_.ForEach([&](const std::string& route, const Histogram& h) {
      if (known_route(route)) h.AddTo(latency[route]);
    });
    w->clusters_.ForEach([&](const std::string& name, const ClusterStats& c) {
      if (name.empty() || !known_cluster(name)) return;
      ClusterSum& sum = cluster_sums[name];
      sum.open += c.open.Get();
      sum.idle += c.idle.Get();
      sum.active += c.active.Get();
      sum.out.set_connects(sum.out.connects() + c.connects.Get());
      sum.out.set_connect_errors(sum.out.connect_errors() + c.connect_errors.Get());
      sum.out.set_ejections(sum.out.ejections() + c.ejections.Get());
      sum.out.set_retries(sum.out.retries() + c.retries.Get());
      sum.out.set_reuses(sum.out.reuses() + c.reuses.Get());
      sum.out.set_tls_errors(sum.out.tls_errors() + c.tls_errors.Get());
      sum.out.set_h2_refused(sum.out.h2_refused() + c.h2_refused.Get());
      sum.out.set_h2_stalled(sum.out.h2_stalled() + c.h2_stalled.Get());
      c.upstream_duration.AddTo(*sum.out.mutable_upstream_duration());
    });
    for (size_t i = 0; i < kParseErrors; ++i) refusals[i] += w->parse_refusals_[i].Get();
    tls_ok += w->tls_ok_.Get();
    for (size_t i = 0; i < tls_failed.size(); ++i) tls_failed[i] += w->tls_failed_[i].Get();
    for (size_t i = 0; i < total.size(); ++i) {
      total[i] += w->downstream_total_[i].Get();
      open[i] += w->downstream_open_[i].Get();
    }
    h2_total += w->h2_streams_total_.Get();
    h2_open += w->h2_streams_open_.Get();
    for (size_t i = 0; i < abuse.size(); ++i) abuse[i] += w->h2_abuse_[i].Get();
    overflow += w->downstream_overflow_.Get();
    budget_exhausted += w->retry_budget_exhausted_.Get();
    w->route_retries_.ForEach([&](const std::string& route, const RetryCounters& counters) {
      if (!known_route(route)) return;
      auto& sum = retries[route];
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += counters[i].Get();
    });
    upgrades_total += w->upgrades_total_.Get();
    upgrades_open += w->upgrades_open_.Get();
  }

  api::ProxyStats out;
  out.set_workers(static_cast<uint32_t>(workers.size()));
  for (const auto& [key, count] : requests) {
    auto* r = out.add_requests();
    r->set_route(std::get<0>(key));
    r->set_backend(std::get<1>(key));
    r->set_code(static_cast<uint32_t>(std::get<2>(key)));
    r->set_count(count);
  }
  for (auto& [route, histogram] : latency) {
    auto* r = out.add_route_latency();
    r->set_route(route);
    *r->mutable_duration() = std::move(histogram);
  }
  for (auto& [name, sum] : cluster_sums) {
    auto* c = out.add_clusters();
    *c = std::move(sum.out);
    c->set_cluster(name);
    c->set_connections_open(NonNegative(sum.open));
    c->set_connections_idle(NonNegative(sum.idle));
    c->set_connections_active(NonNegative(sum.active));
    if (c->upstream_duration().bounds_size() == 0)
      Histogram().AddTo(*c->mutable_upstream_duration());
  }
  auto* ok = out.add_tls_handshakes();
  ok->set_result("ok");
  ok->set_count(tls_ok);
  for (size_t i = 0; i < tls_failed.size(); ++i) {
    auto* f = out.add_tls_handshakes();
    f->set_result("failed");
    f->set_reason(std::string(TlsFailureName(static_cast<TlsFailure>(i))));
    f->set_count(tls_failed[i]);
  }
  for (size_t i = 1; i < kParseErrors; ++i) {
    auto error = static_cast<http::ParseError>(i);
    // Not request refusals: a response-side error, and a client that hung up mid-message.
    if (error == http::ParseError::kBadStatusLine || error == http::ParseError::kUnexpectedEof) {
      continue;
    }
    int status = http::ParseErrorStatus(error);
    auto* r = out.add_parse_refusals();
    r->set_reason(std::string(http::ParseErrorName(error)));
    r->set_code(static_cast<uint32_t>(status));
    r->set_count(refusals[i]);
  }
  for (size_t i = 0; i < total.size(); ++i) {
    auto* d = out.add_downstream();
    d->set_protocol(std::string(DownstreamProtocolName(static_cast<DownstreamProtocol>(i))));
    d->set_connections_total(total[i]);
    d->set_connections_open(NonNegative(open[i]));
  }
  out.set_h2_streams_total(h2_total);
  out.set_h2_streams_open(NonNegative(h2_open));
  for (size_t i = 0; i < abuse.size(); ++i) {
    auto kind = static_cast<H2Abuse>(i);
    auto* a = out.add_h2_abuse();
    a->set_kind(std::string(H2AbuseName(kind)));
    a->set_code(H2AbuseCode(kind));
    a->set_count(abuse[i]);
  }
  out.set_downstream_overflow(overflow);
  out.set_retry_budget_exhausted(budget_exhausted);
  for (const auto& [route, counts] : retries) {
    for (size_t i = 0; i < counts.size(); ++i) {
      auto* r = out.add_route_retries();
      r->set_route(route);
      r->set_reason(std::string(RetryReasonName(static_cast<RetryReason>(i))));
      r->set_count(counts[i]);
    }
  }
  out.set_upgrades_total(upgrades_total);
  out.set_upgrades_open(NonNegative(upgrades_open));
  return out;
}

}  // namespace xgate::proxy::stats
