// Exchange: a backend's 101 Switching Protocols to an HTTP/1.1 Upgrade (WebSocket) request.
#include <optional>

#include "spdlog/spdlog.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/exchange.h"
#include "userspace-proxy/server/h2_websocket.h"

namespace xgate::proxy {

AccessLogEntry Exchange::TunnelLog(std::string protocol, std::string method, int status,
                                   const std::string& endpoint) const {
  AccessLogEntry log;
  if (!AccessLog::Enabled()) return log;
  log.client = log_.client;
  log.authority = log_.authority;
  log.path = log_.path;
  log.route = log_.route;
  log.rule_index = log_.rule_index;
  log.cluster = log_.cluster;
  log.protocol = std::move(protocol);
  log.method = std::move(method);
  log.status = status;
  log.endpoint = endpoint;
  return log;
}

void Exchange::OnSwitchingProtocols(UpstreamConnection& upstream) {
  const http::ResponseHeadView& view = upstream.parser().head();
  if (!request_.websocket_key.empty() &&
      view.Get("Sec-WebSocket-Accept") != WebSocketAccept(request_.websocket_key)) {
    worker_.upstreams().Report(upstream, true);
    Fail(502, "the backend's Sec-WebSocket-Accept does not answer the key sent");
    return;
  }
  http::ResponseHead response = http::ToResponseHead(view);
  std::string protocol(view.Get("Upgrade").value_or(request_.upgrade));
  routing::ApplyResponseFilters(filters_, response);
  http::StripHopByHop(response.headers);
  response.headers.Set("Connection", "Upgrade");
  response.headers.Set("Upgrade", protocol);
  worker_.upstreams().Report(upstream, false);
  // From here the upstream connection belongs to the owner's tunnel.
  upstream_ = nullptr;
  HandOverTunnel(response, ConnectionTunnelPeer(worker_.upstreams(), upstream));
}

// RFC 8441 5: the 2xx to the extended CONNECT is the WebSocket handshake's success. An HTTP/1.1
// client gets the 101 it asked for, with the Sec-WebSocket-Accept of its own key (RFC 6455
// 4.2.2); an HTTP/2 client's owner turns it into its 200.
void Exchange::OnH2Upgrade(H2UpstreamStream& stream, http::ResponseHead& head) {
  http::ResponseHead response = head;
  response.status = 101;
  routing::ApplyResponseFilters(filters_, response);
  http::StripHopByHop(response.headers);
  response.headers.Remove("Content-Length");
  response.headers.Set("Connection", "Upgrade");
  response.headers.Set("Upgrade", request_.upgrade);
  if (std::optional<std::string_view> key = request_.head.headers.Get("Sec-WebSocket-Key")) {
    response.headers.Set("Sec-WebSocket-Accept", WebSocketAccept(*key));
  }
  worker_.upstreams().Report(stream.connection(), false);
  h2_ = nullptr;  // from here the stream belongs to the owner's tunnel
  HandOverTunnel(response, StreamTunnelPeer(stream));
}

void Exchange::HandOverTunnel(http::ResponseHead& response, std::unique_ptr<TunnelPeer> peer) {
  log_.status = 101;
  log_.upstream_duration_ms = MillisSince(upstream_started_);
  // No timeout of the request applies any more (the tunnel has its idle timeout).
  worker_.loop().CancelTimer(backend_timer_);
  worker_.loop().CancelTimer(request_timer_);
  backend_timer_ = request_timer_ = 0;
  forwarding_ = false;
  response_started_ = true;
  if (!owner_.TakeUpgrade(response, peer)) {
    peer.reset();  // the connection closed, or the stream reset
    log_.status = 502;
    log_.error = "upgrade not possible on this connection";
    owner_.ResponseAbort();
  }
  Finish();
}

}  // namespace xgate::proxy
