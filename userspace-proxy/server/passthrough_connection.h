// A TLS_PASSTHROUGH connection: peek the ClientHello's SNI (parsed by OpenSSL, never
// decrypted), route by it to a TLSRoute backend, then copy bytes both ways unchanged.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/transport.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

enum class SniPeek { kNeedMore, kFound, kNotTls };
// Looks for a complete ClientHello at the start of `bytes` and its server_name ("" when the
// client sent none).
SniPeek PeekSni(std::string_view bytes, std::string* sni);

class PassthroughConnection : public Connection, public UpstreamClient {
 public:
  // `open`: the downstream open-connections gauge, lowered when the socket closes.
  PassthroughConnection(Worker& worker, int fd, SocketAddress local, SocketAddress peer,
                        std::shared_ptr<const Config> config, stats::Gauge* open = nullptr);
  ~PassthroughConnection() override;
  void Start();

  void OnUpstreamConnected(UpstreamConnection& upstream) override;
  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;
  void OnUpstreamDrained(UpstreamConnection& upstream) override;

 private:
  void OnEvents(uint32_t events);
  void ReadClient();
  void Route();
  void Flush();
  void Close(std::string error);

  Worker& worker_;
  Transport transport_;
  SocketAddress local_;
  SocketAddress peer_;
  std::shared_ptr<const Config> config_;
  Buffer in_;   // client bytes not yet handed to the upstream
  Buffer out_;  // upstream bytes not yet written to the client
  UpstreamConnection* upstream_ = nullptr;
  std::string cluster_;
  const ClusterEndpoints* endpoints_ = nullptr;
  std::vector<std::string> tried_;
  bool routed_ = false;
  bool client_eof_ = false;
  bool upstream_eof_ = false;
  bool closed_ = false;
  EventLoop::TimerId timer_ = 0;  // ClientHello deadline
  Clock::time_point started_ = Clock::now();
  AccessLogEntry log_;
};

}  // namespace xgate::proxy
