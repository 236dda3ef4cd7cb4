// The upstream side of an upgraded (WebSocket) tunnel: the bytes of an HTTP/1.1 connection
// after its 101, or the DATA of an HTTP/2 stream after the 200 to its extended CONNECT
// (RFC 8441, an h2c or h2 cluster). The tunnels toward the client (UpgradeTunnel for an
// HTTP/1.1 client, H2WebSocket for an HTTP/2 one) relay to either without knowing which.
// Everything here belongs to one worker's loop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "userspace-proxy/server/h2_upstream.h"
#include "userspace-proxy/server/upstream.h"

namespace xgate::proxy {

class TunnelPeerClient {
 public:
  virtual ~TunnelPeerClient() = default;
  // Bytes from the backend.
  virtual void OnPeerData(std::string_view data) = 0;
  // The backend ended its side: `error` a reset (connection reset, stream reset, session
  // lost), else an orderly end after its bytes (EOF, END_STREAM). Nothing follows.
  virtual void OnPeerEnd(bool error) = 0;
  // The bytes queued toward the backend went below the high-water mark.
  virtual void OnPeerDrained() = 0;
};

class TunnelPeer {
 public:
  virtual ~TunnelPeer() = default;  // lets go of the connection or stream (a reset if open)
  // From now on `client` is told; bytes the backend sent with its answer come first.
  virtual void Start(TunnelPeerClient* client) = 0;
  virtual void Send(std::string_view data) = 0;
  // The client's half-close: the backend's side ends once the queued bytes are out.
  virtual void EndSend() = 0;
  // Bytes queued toward the backend, for backpressure.
  virtual size_t pending() const = 0;
  // Stops (or resumes) reading from the backend.
  virtual void PauseRead(bool paused) = 0;
  const std::string& endpoint() const { return endpoint_; }  // "ip:port"

 protected:
  explicit TunnelPeer(std::string endpoint) : endpoint_(std::move(endpoint)) {}

 private:
  std::string endpoint_;
};

// The connection after a 101; it is released (closed) when the peer goes.
std::unique_ptr<TunnelPeer> ConnectionTunnelPeer(UpstreamPool& pool,
                                                 UpstreamConnection& connection);
// An extended CONNECT's stream after its 2xx; reset when the peer goes while it is open.
std::unique_ptr<TunnelPeer> StreamTunnelPeer(H2UpstreamStream& stream);

}  // namespace xgate::proxy
