// Exchange: the upstream side for an h2c cluster, a stream on a pooled HTTP/2 session.
#include <algorithm>
#include <charconv>

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/exchange.h"

namespace xgate::proxy {

bool Exchange::ConnectH2(std::string_view body, bool skip_ejected) {
  std::string error;
  H2RequestStart start;
  start.head = &request_.head;
  start.te_trailers = te_trailers_;
  start.has_body = request_.has_body;
  // An Upgrade (WebSocket) goes as an extended CONNECT (RFC 8441) whose DATA is the tunnel's.
  start.protocol = request_.upgrade;
  h2_ = worker_.upstreams().h2().Open(cluster_, *endpoints_, tried_, start, this, &error,
                                      skip_ejected, PreferredEndpoint());
  if (h2_ == nullptr) return NoUpstream(error);
  NoteEndpoint(h2_->endpoint());
  h2_->SendData(body);
  if (request_done_ && request_.upgrade.empty()) h2_->EndRequest(request_trailers_);
  return true;
}

void Exchange::OnH2ResponseHead(H2UpstreamStream& stream, http::ResponseHead& head,
                                bool end_stream) {
  if (&stream != h2_) return;
  if (!request_.upgrade.empty() && head.status >= 200 && head.status < 300) {
    OnH2Upgrade(stream, head);
    return;
  }
  UpstreamConnection& connection = stream.connection();
  const auto* codes = retry_ ? &retry_->codes() : nullptr;
  if (request_done_ && CanRetry() &&
      std::find(codes->begin(), codes->end(), static_cast<uint32_t>(head.status)) != codes->end()) {
    worker_.upstreams().Report(connection, head.status >= 500);
    stats::ClusterStats& failed = connection.cluster_stats();
    DetachUpstream(false);  // the rest of this answer is not read
    PolicyRetry(failed, stats::RetryReason::kStatus,
                "upstream answered " + std::to_string(head.status));
    return;
  }
  http::ResponseHead response = head;
  log_.status = response.status;
  log_.upstream_duration_ms = MillisSince(upstream_started_);
  connection.cluster_stats().upstream_duration.Observe(log_.upstream_duration_ms / 1000);
  worker_.upstreams().Report(connection, response.status >= 500);
  routing::ApplyResponseFilters(filters_, response);
  AddSession(response, connection.endpoint());
  http::StripHopByHop(response.headers);
  ResponseBody body = ResponseBody::kStream;
  uint64_t content_length = 0;
  std::optional<std::string_view> length = response.headers.Get("Content-Length");
  bool no_body = request_.head.method == "HEAD" || response.status == 204 || response.status == 304;
  // Ended with its HEADERS (a gRPC trailers-only answer): for an HTTP/1.1 client a 200 without
  // a length reads to the connection's close, so it gets Content-Length 0; HTTP/2 clients get
  // the one HEADERS frame.
  bool ended_empty = end_stream && !length && !no_body;
  if (no_body || (ended_empty && request_.protocol == "HTTP/2")) {
    body = ResponseBody::kNone;
  } else if (ended_empty) {
    body = ResponseBody::kContentLength;
  } else if (length &&
             std::from_chars(length->data(), length->data() + length->size(), content_length).ec ==
                 std::errc()) {
    body = ResponseBody::kContentLength;
  }
  response.headers.Remove("Content-Length");
  response_started_ = true;
  owner_.ResponseHead(response, body, content_length);
}

void Exchange::OnH2ResponseData(H2UpstreamStream& stream, std::string_view data) {
  if (&stream != h2_) return;
  log_.bytes_out += data.size();
  owner_.ResponseData(data);
  if (h2_ && owner_.ResponseBuffered() >= worker_.upstreams().high_water()) h2_->PauseResponse();
}

void Exchange::OnH2ResponseEnd(H2UpstreamStream& stream,
                               const std::vector<http::Header>& trailers) {
  if (&stream != h2_) return;
  forwarding_ = false;
  DetachUpstream(true);
  owner_.ResponseEnd(trailers);
  Finish();
}

void Exchange::OnH2StreamFailed(H2UpstreamStream& stream, bool unprocessed, std::string why) {
  if (&stream != h2_) return;
  h2_ = nullptr;  // gone after this call
  UpstreamConnection& connection = stream.connection();
  // RFC 8441 3: no extended CONNECT to a backend that did not allow it; it answered nothing
  // and is not unhealthy for that. No endpoint of the cluster is tried again: a Service's
  // endpoints run the same server.
  if (stream.no_extended_connect()) {
    Fail(502, std::move(why));
    return;
  }
  // A refusal (GOAWAY, REFUSED_STREAM) is the backend's orderly way to shed load: sent again
  // once on a new connection, the same endpoint included, and not held against it.
  if (stream.refused()) connection.cluster_stats().h2_refused.Add();
  // A backend that takes no more of the body is slow, not down (as Envoy's stream idle
  // timeout and HAProxy's timeout server): not held against the endpoint, not sent again.
  if (stream.stalled()) {
    Fail(504, std::move(why));
    return;
  }
  if (stream.refused() && replay_complete_ && !retried_stale_) {
    retried_stale_ = true;
    tried_.clear();
    ConnectUpstream(replay_, /*skip_ejected=*/false);
    return;
  }
  // A connect or TLS handshake that failed was counted by the pool already, once for the
  // connection, not once more for each stream that waited on it.
  if (connection.connected()) worker_.upstreams().Report(connection, true);
  // Sent again only when the backend did not act on it, or it is idempotent and nothing of
  // the answer came, and the whole request is at hand.
  bool retriable =
      !response_started_ && replay_complete_ && (unprocessed || Idempotent(request_.head.method));
  if (retriable) {
    spdlog::debug("{} on {} ({})", why, connection.endpoint(),
                  unprocessed ? "not processed" : "idempotent");
    Retry(connection.cluster_stats(), std::string(replay_), 502, std::move(why),
          stats::RetryReason::kReset);
    return;
  }
  Fail(502, std::move(why));
}

void Exchange::OnH2RequestDrained(H2UpstreamStream&) { owner_.RequestBodyDrained(); }

}  // namespace xgate::proxy
