// The proxy's counters. Each worker owns one WorkerStats and is its only writer: an increment
// is a relaxed load and store (no lock, no locked instruction), and series are found through
// a worker-private hash map. Any thread may read while the worker writes; totals are summed
// over workers only when read (CollectStats), so the request path never shares a cache line
// or takes a lock for a counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "api/proxy.pb.h"
#include "userspace-proxy/http/message.h"

namespace xgate::proxy::stats {

// One writer, many readers.
class Counter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Upper bounds in seconds; one more bucket counts what is above the last.
inline constexpr std::array<double, 14> kLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

class Histogram {
 public:
  void Observe(double seconds);
  // Adds this histogram's counts into `out` (bounds set on first use).
  void AddTo(api::LatencyHistogram& out) const;

 private:
  std::array<Counter, kLatencyBounds.size() + 1> buckets_;
  std::atomic<double> sum_{0};
};

// An append-only map from a key to counters with stable addresses: the writer adds entries
// (and looks them up in its private index), readers walk the published prefix. Entries are
// never removed, so a pointer to a value stays valid for the map's life.
template <typename Key, typename Value, typename Hash = absl::Hash<Key>,
          typename Eq = std::equal_to<>>
class SeriesMap {
 public:
  static constexpr size_t kChunk = 64;
  static constexpr size_t kMaxChunks = 1024;  // 65536 series; more share one unlisted sink

  // Writer only. `key` may be any type the index's Hash and Eq accept.
  template <typename K, typename Make>
  Value& FindOrAdd(const K& key, Make make_key) {
    // Consecutive requests on a worker mostly name the same series: compare before hashing.
    if (last_ != nullptr && Eq()(last_->key, key)) return last_->value;
    auto it = index_.find(key);
    if (it != index_.end()) {
      last_ = it->second;
      return it->second->value;
    }
    size_t n = size_.load(std::memory_order_relaxed);
    if (n / kChunk >= kMaxChunks) return overflow_;
    auto& chunk = chunks_[n / kChunk];
    if (!chunk) chunk = std::make_unique<Entry[]>(kChunk);
    Entry& entry = chunk[n % kChunk];
    entry.key = make_key(key);
    index_.emplace(entry.key, &entry);
    size_.store(n + 1, std::memory_order_release);
    last_ = &entry;
    return entry.value;
  }

  // Any thread.
  template <typename F>
  void ForEach(F f) const {
    size_t n = size_.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
      const Entry& entry = chunks_[i / kChunk][i % kChunk];
      f(entry.key, entry.value);
    }
  }

 private:
  struct Entry {
    Key key;
    Value value;
  };
  std::array<std::unique_ptr<Entry[]>, kMaxChunks> chunks_;
  std::atomic<size_t> size_{0};
  absl::flat_hash_map<Key, Entry*, Hash, Eq> index_;
  Entry* last_ = nullptr;
  Value overflow_;
};

struct RequestKey {
  std::string route;
  std::string backend;
  int code = 0;
};
struct RequestKeyView {
  std::string_view route;
  std::string_view backend;
  int code = 0;
};
struct RequestKeyHash {
  using is_transparent = void;
  size_t operator()(const RequestKey& k) const { return absl::HashOf(k.route, k.backend, k.code); }
  size_t operator()(const RequestKeyView& k) const {
    return absl::HashOf(k.route, k.backend, k.code);
  }
};
struct RequestKeyEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return a.code == b.code && std::string_view(a.route) == std::string_view(b.route) &&
           std::string_view(a.backend) == std::string_view(b.backend);
  }
};
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::HashOf(s); }
};

struct ClusterStats {
  Gauge open;
  Gauge idle;
  Gauge active;
  Counter connects;
  Counter connect_errors;
  Counter ejections;
  Counter retries;  // requests tried again elsewhere after an attempt on this cluster failed
  Counter reuses;
  Counter tls_errors;  // TLS handshakes to an endpoint that failed (BackendTLSPolicy)
  Counter h2_refused;  // HTTP/2 streams refused unprocessed (REFUSED_STREAM, above a GOAWAY's)
  Counter h2_stalled;  // HTTP/2 streams reset: request body held by a zero window too long
  Histogram upstream_duration;
};

// Why a request was tried again under its route's retry policy.
enum class RetryReason { kStatus, kConnect, kReset, kTimeout, kCount };
std::string_view RetryReasonName(RetryReason reason);
using RetryCounters = std::array<Counter, static_cast<size_t>(RetryReason::kCount)>;

enum class DownstreamProtocol { kHttp, kHttps, kTlsPassthrough, kCount };
std::string_view DownstreamProtocolName(DownstreamProtocol protocol);

enum class TlsFailure {
  kProtocolVersion,
  kNoCertificate,
  kNoSharedCipher,
  kClientCertificate,  // frontend client validation: none given, or it did not verify
  kClientAlert,
  kEof,
  kOther,
  kCount
};
std::string_view TlsFailureName(TlsFailure failure);

// Why an HTTP/2 connection was closed as abusive.
enum class H2Abuse {
  kRapidReset,
  kContinuationFlood,
  kSettingsFlood,
  kPingFlood,
  kEmptyFrames,
  kHpack,         // a header block that decodes to far more than it carries (HPACK bomb)
  kHpackInvalid,  // a block that does not decode (e.g. a table update beyond our size)
  kZeroWindow,
  kOutboundFlood,
  kCount
};
std::string_view H2AbuseName(H2Abuse kind);
// The GOAWAY error code sent for it.
uint32_t H2AbuseCode(H2Abuse kind);

inline constexpr size_t kParseErrors = static_cast<size_t>(http::ParseError::kUnexpectedEof) + 1;

class WorkerStats {
 public:
  // Writer (the owning worker) only.
  void CountRequest(std::string_view route, std::string_view backend, int code);
  void ObserveLatency(std::string_view route, double seconds);
  ClusterStats& Cluster(std::string_view name);
  void ParseRefused(http::ParseError error) { parse_refusals_[static_cast<size_t>(error)].Add(); }
  void TlsHandshakeOk() { tls_ok_.Add(); }
  void TlsHandshakeFailed(TlsFailure why) { tls_failed_[static_cast<size_t>(why)].Add(); }
  Gauge& DownstreamOpened(DownstreamProtocol protocol);  // counts it; returns its open gauge
  void H2StreamOpened() {
    h2_streams_total_.Add();
    h2_streams_open_.Add(1);
  }
  void H2StreamClosed() { h2_streams_open_.Add(-1); }
  void H2AbuseSeen(H2Abuse kind) { h2_abuse_[static_cast<size_t>(kind)].Add(); }
  void DownstreamOverflow() { downstream_overflow_.Add(); }
  void RetryBudgetExhausted() { retry_budget_exhausted_.Add(); }
  void RouteRetried(std::string_view route, RetryReason reason);
  void UpgradeOpened() {
    upgrades_total_.Add();
    upgrades_open_.Add(1);
  }
  void UpgradeClosed() { upgrades_open_.Add(-1); }
  // Any thread: downstream connections open on this worker.
  int64_t DownstreamOpen() const;

 private:
  friend api::ProxyStats CollectStats(std::span<const WorkerStats* const>,
                                      const std::set<std::string, std::less<>>&,
                                      const std::set<std::string, std::less<>>&);
  SeriesMap<RequestKey, Counter, RequestKeyHash, RequestKeyEq> requests_;
  SeriesMap<std::string, Histogram, StringHash> route_latency_;
  SeriesMap<std::string, ClusterStats, StringHash> clusters_;
  std::array<Counter, kParseErrors> parse_refusals_;
  Counter tls_ok_;
  std::array<Counter, static_cast<size_t>(TlsFailure::kCount)> tls_failed_;
  std::array<Counter, static_cast<size_t>(DownstreamProtocol::kCount)> downstream_total_;
  std::array<Gauge, static_cast<size_t>(DownstreamProtocol::kCount)> downstream_open_;
  Counter h2_streams_total_;
  Gauge h2_streams_open_;
  std::array<Counter, static_cast<size_t>(H2Abuse::kCount)> h2_abuse_;
  Counter downstream_overflow_;
  Counter retry_budget_exhausted_;
  SeriesMap<std::string, RetryCounters, StringHash> route_retries_;
  Counter upgrades_total_;
  Gauge upgrades_open_;
};

// The sum over `workers` in one message (any thread), series sorted by their labels, keeping
// only the routes and clusters in the given sets (the current config's; route "" and
// backend "" always).
api::ProxyStats CollectStats(std::span<const WorkerStats* const> workers,
                             const std::set<std::string, std::less<>>& routes,
                             const std::set<std::string, std::less<>>& clusters);

// The reason a failed server handshake gives, from OpenSSL's error queue (which it clears).
TlsFailure ClassifyTlsFailure(bool eof);

}  // namespace xgate::proxy::stats
