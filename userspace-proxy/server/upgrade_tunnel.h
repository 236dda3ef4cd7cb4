// An HTTP/1.1 connection after its Upgrade (WebSocket) was answered 101: bytes are copied both
// ways unchanged, with backpressure, half-closes passed on, and the connection closed after
// the idle timeout without a byte either way. The backend's side is a TunnelPeer: the
// backend's own connection after its 101, or an HTTP/2 stream whose extended CONNECT it
// answered 200 (an h2c cluster). It keeps its peer and refers to no config, so it outlives
// config swaps.
#pragma once

#include <memory>
#include <string>

#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/idle_timer.h"
#include "userspace-proxy/server/transport.h"
#include "userspace-proxy/server/tunnel_peer.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class UpgradeTunnel : public Connection, public TunnelPeerClient {
 public:
  // `to_client`: the 101 head; `to_upstream`: bytes the client sent after its request. `log`:
  // the upgrade request's entry, written on close.
  UpgradeTunnel(Worker& worker, std::unique_ptr<Transport> downstream,
                std::unique_ptr<TunnelPeer> upstream, std::string_view to_client,
                std::string_view to_upstream, AccessLogEntry log);
  ~UpgradeTunnel() override;
  void Start();

  void OnPeerData(std::string_view data) override;
  void OnPeerEnd(bool error) override;
  void OnPeerDrained() override { ReadClient(); }

 private:
  void OnEvents(uint32_t events);
  void ReadClient();
  void Flush();
  void Close(std::string error);

  Worker& worker_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<TunnelPeer> upstream_;
  Buffer out_;  // upstream bytes not yet written to the client
  bool client_eof_ = false;
  bool upstream_eof_ = false;
  bool client_shut_ = false;  // our write side toward the client is half-closed
  bool closed_ = false;
  IdleTimer idle_;
  Clock::time_point started_ = Clock::now();
  AccessLogEntry log_;
};

}  // namespace xgate::proxy
