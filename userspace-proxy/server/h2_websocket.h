// RFC 8441: a WebSocket carried by one downstream HTTP/2 stream. The client's extended CONNECT
// (:protocol websocket) goes upstream as an HTTP/1.1 Upgrade with a Sec-WebSocket-Key of the
// proxy's own (the exchange checks the 101's Sec-WebSocket-Accept), or to an h2c cluster as
// an extended CONNECT of its own (the backend's side is then a stream too: TunnelPeer); the
// client gets :status 200 and from then on the stream's DATA carries the WebSocket bytes both
// ways. Flow control
// gives backpressure: client DATA is acknowledged as the upstream takes it, and upstream bytes
// are read while the connection's buffered response bytes stay below the buffer limit.
// END_STREAM and the upstream's EOF are passed on as half-closes, a reset either way ends both,
// and the stream is reset after the idle timeout without a byte either way. The tunnel keeps
// its upstream connection and refers to no config, so it outlives config swaps. When it ends
// it writes an access log line of its own (bytes each way, how long it lasted, why it ended),
// as the HTTP/1.1 tunnel does.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/idle_timer.h"
#include "userspace-proxy/server/tunnel_peer.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class H2Stream;

// A fresh Sec-WebSocket-Key (16 random bytes, base64), and the Sec-WebSocket-Accept a
// backend must answer it with (RFC 6455 4.2.2).
std::string NewWebSocketKey();
std::string WebSocketAccept(std::string_view key);

class H2WebSocket : public TunnelPeerClient {
 public:
  // `early`: DATA the client sent before the 200, to go upstream first. `log`: the tunnel's
  // access log line so far (client, authority, path, endpoint).
  H2WebSocket(H2Stream& stream, std::unique_ptr<TunnelPeer> upstream, std::string_view early,
              AccessLogEntry log);
  ~H2WebSocket() override;  // the backend's side is let go; the log line is written
  H2WebSocket(const H2WebSocket&) = delete;
  H2WebSocket& operator=(const H2WebSocket&) = delete;

  // After the 200 is submitted: relays what the backend sent right after its answer.
  void Start();
  // Client DATA for the backend; false while the upstream holds enough unsent bytes (then the
  // stream acknowledges the DATA once the upstream drains).
  bool FromClient(std::string_view data);
  // The client's END_STREAM: the backend's write side is shut once its bytes are out.
  void ClientEnded();
  // The connection's buffered response bytes went below the limit.
  void ResumeUpstream() { upstream_->PauseRead(false); }
  // The stream closed with this HTTP/2 error code (a reset by the client, or the connection's
  // end): what the log line gives as the reason, unless an earlier one is known.
  void StreamClosed(uint32_t error_code);

  void OnPeerData(std::string_view data) override;
  void OnPeerEnd(bool error) override;
  void OnPeerDrained() override;

 private:
  void OnIdle();  // resets the stream

  H2Stream& stream_;
  Worker& worker_;
  std::unique_ptr<TunnelPeer> upstream_;
  bool upstream_eof_ = false;
  IdleTimer idle_;
  AccessLogEntry log_;
  Clock::time_point started_ = Clock::now();
};

}  // namespace xgate::proxy
