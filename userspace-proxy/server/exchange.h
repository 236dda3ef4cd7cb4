// One request/response exchange, independent of the downstream protocol: route, filters,
// redirect or local answer, upstream connection with retries, response filters, mirrors,
// timeouts and the access log line. The HTTP/1.1 connection and each HTTP/2 stream own one
// per request and do their own framing through ExchangeOwner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "userspace-proxy/http/message.h"
#include "userspace-proxy/routing/filters.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/h2_upstream.h"
#include "userspace-proxy/server/session_persistence.h"
#include "userspace-proxy/server/tunnel_peer.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Mirror;

// How a response body follows its head.
enum class ResponseBody { kNone, kContentLength, kStream };

class ExchangeOwner {
 public:
  virtual ~ExchangeOwner() = default;
  // The response head: filters applied, hop-by-hop fields removed, no framing field set.
  virtual void ResponseHead(http::ResponseHead& head, ResponseBody body,
                            uint64_t content_length) = 0;
  virtual void ResponseData(std::string_view data) = 0;
  virtual void ResponseEnd(const std::vector<http::Header>& trailers) = 0;
  // The response cannot be completed after its head went out: cut the downstream.
  virtual void ResponseAbort() = 0;
  // Response bytes queued toward the client, for backpressure.
  virtual size_t ResponseBuffered() const = 0;
  // The upstream took the queued request body: the client may send more.
  virtual void RequestBodyDrained() = 0;
  // The exchange is over (after ResponseEnd or ResponseAbort). Do not destroy the exchange
  // from inside this call; defer it.
  virtual void ExchangeFinished() = 0;
  // The backend accepted an Upgrade request (a 101, or a 2xx to an extended CONNECT upstream):
  // the owner sends `head` (a 101 with the client's Sec-WebSocket-Accept) and from then on
  // relays bytes between its client and `upstream`, which it takes (moves out). False when it
  // cannot (the exchange lets go of `upstream` and cuts the answer).
  virtual bool TakeUpgrade(http::ResponseHead& head, std::unique_ptr<TunnelPeer>& upstream) {
    return false;
  }
};

struct ExchangeRequest {
  http::RequestHead head;
  bool has_body = false;
  std::optional<uint64_t> content_length;  // unset with a body: chunked toward the upstream
  // Views into the downstream connection, which outlives its exchanges: no copies per
  // request.
  std::string_view protocol;  // for the access log: "HTTP/1.1", "HTTP/2"
  std::string_view local_ip;
  uint16_t local_port = 0;
  std::string_view sni;
  bool tls = false;
  std::string_view client_ip;
  std::string client;   // "ip:port", only with the access log on
  std::string upgrade;  // an HTTP/1.1 Upgrade request's protocol ("websocket"); "" if none
  // The Sec-WebSocket-Key the proxy sent for an HTTP/2 extended CONNECT (RFC 8441); the
  // backend's 101 must carry its accept. "" when the client's own key went upstream.
  std::string websocket_key;
};

class Exchange : public UpstreamClient, public H2StreamClient {
 public:
  Exchange(Worker& worker, ExchangeOwner& owner);
  ~Exchange() override;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // The owner fills the request in place (no copy or move of its head per request), then
  // starts the exchange.
  ExchangeRequest& request() { return request_; }
  void Start();
  void RequestData(std::string_view data);
  void RequestEnd(const std::vector<http::Header>& trailers);
  // Answer locally (parse errors, timeouts found by the owner).
  void Reply(int status, std::string_view body, std::string error);
  // The downstream went away: log and let go of the upstream.
  void ClientGone(std::string why);
  // The owner drained its response buffer below the high-water mark.
  void ResumeResponse();

  // True while the upstream has enough request bytes queued: stop reading the client.
  bool request_paused() const;
  bool response_started() const { return response_started_; }
  bool finished() const { return finished_; }
  bool request_done() const { return request_done_; }
  const std::string& method() const { return request_.head.method; }
  // The first access log line of a tunnel this exchange's upgrade opened: the request's
  // client, authority, path, route, rule and cluster, with the tunnel's protocol, method,
  // status and endpoint (its bytes, duration and end are the tunnel's to fill).
  AccessLogEntry TunnelLog(std::string protocol, std::string method, int status,
                           const std::string& endpoint) const;

  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;
  void OnUpstreamDrained(UpstreamConnection& upstream) override;

  // An h2c cluster's stream (exchange_h2.cc).
  void OnH2ResponseHead(H2UpstreamStream& stream, http::ResponseHead& head,
                        bool end_stream) override;
  void OnH2ResponseData(H2UpstreamStream& stream, std::string_view data) override;
  void OnH2ResponseEnd(H2UpstreamStream& stream,
                       const std::vector<http::Header>& trailers) override;
  void OnH2StreamFailed(H2UpstreamStream& stream, bool unprocessed, std::string why) override;
  void OnH2RequestDrained(H2UpstreamStream& stream) override;

 private:
  void Route();
  void SendUpstream(std::string_view bytes);
  static bool Idempotent(std::string_view method);
  // Whether the backend has an endpoint left to try (`invalid_ok`: or is invalid, 500).
  bool BackendUsable(const api::WeightedCluster& backend, bool skip_ejected, bool invalid_ok) const;
  // Points the exchange at `backend`: its filters over the route's head (the first time,
  // request_.head as it is), its cluster; returns the upstream request head.
  std::string PrepareBackend(const api::WeightedCluster& backend, bool first);
  bool ConnectUpstream(std::string_view pending, bool skip_ejected);
  // Milliseconds from `start` (started_, upstream_started_: the loop's Now()) to Now().
  double MillisSince(Clock::time_point start) const;
  // ConnectUpstream for an h2c cluster: a stream carrying the head and `body`.
  bool ConnectH2(std::string_view body, bool skip_ejected);
  // No endpoint could be had (`error`): the retry policy's turn, else 503. Returns false.
  bool NoUpstream(const std::string& error);
  // An attempt goes to `endpoint`: it is tried, and logged.
  void NoteEndpoint(const std::string& endpoint);
  // An attempt failed before any response byte: try another endpoint, else (the route's
  // retry policy allowing) the same ones after the backoff, else answer `status`.
  void Retry(stats::ClusterStats& failed, std::string pending, int status, std::string why,
             stats::RetryReason reason);
  // The route's retry policy (exchange_retry.cc): whether another attempt is allowed now.
  bool CanRetry() const;
  // A response head with a status the policy lists: the attempt is dropped and tried again.
  bool RetryOnStatus(UpstreamConnection& upstream);
  // Whether the worker's retry budget lets this request be retried now (a refusal is counted).
  bool AdmitRetry();
  // The request leaves the retry budget's counts (once).
  void LeaveRetryBudget();
  // Counts the retry and arms the backoff timer (false when the policy or the budget allows
  // none).
  bool PolicyRetry(stats::ClusterStats& failed, stats::RetryReason reason, std::string_view why);
  // Makes `other` the exchange's backend (PrepareBackend); replay_, when whole, gets the new
  // head in place of the old one. Returns the new head.
  std::string SwitchBackend(const api::WeightedCluster& other);
  void RetryAttempt();
  void ArmBackendTimer();
  void OnBackendTimeout();
  void Fail(int status, std::string error);
  // A gRPC request (content-type application/grpc*) over HTTP/2: local answers are gRPC.
  bool GrpcOverHttp2() const;
  void ReplyGrpc(int status, std::string_view body, std::string error);
  void OnResponseHead(UpstreamConnection& upstream);
  // The request's session's endpoint, for an attempt on its backend; else -1.
  int PreferredEndpoint() const;
  // The rule's session persistence on the answer of `endpoint`.
  void AddSession(http::ResponseHead& response, const std::string& endpoint) const;
  // A 101 to an Upgrade request: the owner takes the upstream connection (exchange_upgrade.cc).
  void OnSwitchingProtocols(UpstreamConnection& upstream);
  // A 2xx to the extended CONNECT an Upgrade request became on an h2c cluster: the owner
  // takes the stream, the client gets a 101 (exchange_upgrade.cc).
  void OnH2Upgrade(H2UpstreamStream& stream, http::ResponseHead& head);
  // The tunnel's answer `response` goes to the owner with the backend's side `peer`.
  void HandOverTunnel(http::ResponseHead& response, std::unique_ptr<TunnelPeer> peer);
  void OnResponseComplete(UpstreamConnection& upstream, const std::vector<http::Header>& trailers);
  void DetachUpstream(bool reusable);
  void Finish();
  void RecordStats();

  Worker& worker_;
  ExchangeOwner& owner_;
  ExchangeRequest request_;
  std::shared_ptr<const Config> config_;  // pinned for the whole exchange
  routing::FilterOutcome filters_;
  std::string_view cluster_;     // into config_, as route_name_
  std::string_view route_name_;  // into config_, which stays pinned while it is used
  const ClusterEndpoints* endpoints_ = nullptr;
  const routing::CompiledRoute* compiled_route_ = nullptr;  // into config_
  routing::RequestContext context_;
  // After the route's filters, when it has several backends (unset otherwise: most
  // exchanges then neither make nor destroy a second head).
  std::optional<http::RequestHead> route_head_;
  size_t route_response_modifiers_ = 0;
  size_t head_size_ = 0;  // of the upstream request head, at the start of replay_
  UpstreamConnection* upstream_ = nullptr;
  H2UpstreamStream* h2_ = nullptr;              // instead of upstream_ for an h2c cluster
  bool te_trailers_ = false;                    // the client sent "TE: trailers"
  std::vector<http::Header> request_trailers_;  // kept to send the request again (h2c)
  absl::InlinedVector<std::string, 2> tried_;
  std::string replay_;  // bytes sent upstream, kept while small, to retry a stale connection
  bool replay_complete_ = true;
  bool retried_stale_ = false;
  bool chunked_upstream_ = false;
  bool forwarding_ = false;  // request body goes upstream
  bool request_done_ = false;
  bool response_started_ = false;
  bool finished_ = false;
  bool upstream_keep_alive_ = true;
  bool interim_ = false;
  const api::Retry* retry_ = nullptr;  // the route's policy, into config_; null: none
  uint32_t retries_ = 0;               // under the policy
  bool in_retry_budget_ = true;        // counted among the worker's requests in flight
  bool holds_retry_slot_ = false;      // counted among its requests being retried
  EventLoop::TimerId retry_timer_ = 0;
  std::vector<Mirror*> mirrors_;
  EventLoop::TimerId request_timer_ = 0;
  EventLoop::TimerId backend_timer_ = 0;
  Clock::time_point started_;
  Clock::time_point upstream_started_;
  AccessLogEntry log_;

  const api::SessionPersistence* session_config_ = nullptr;  // into config_; null: none
  std::optional<SessionChoice> session_;                     // the one the request holds
};

}  // namespace xgate::proxy
