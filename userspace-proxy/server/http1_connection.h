// One downstream HTTP/1.1 connection (plain or TLS): reads and parses requests, hands each
// to an Exchange, and frames the response (Content-Length, chunked, or until close).
// Requests are served one at a time in arrival order (pipelined requests wait in the input
// buffer); bodies stream both ways; reading stops while buffers are full.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/exchange.h"
#include "userspace-proxy/server/transport.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Http1Connection : public Connection, public ExchangeOwner {
 public:
  Http1Connection(Worker& worker, std::unique_ptr<Transport> transport, SocketAddress local,
                  SocketAddress peer, std::shared_ptr<const Config> accept_config);
  ~Http1Connection() override;

  void Start();
  // Graceful stop: the next response says Connection: close; an idle connection closes soon.
  void Drain() override;

  // ExchangeOwner
  void ResponseHead(http::ResponseHead& head, ResponseBody body, uint64_t content_length) override;
  void ResponseData(std::string_view data) override;
  void ResponseEnd(const std::vector<http::Header>& trailers) override;
  void ResponseAbort() override;
  size_t ResponseBuffered() const override { return out_.size(); }
  void RequestBodyDrained() override;
  void ExchangeFinished() override;
  bool TakeUpgrade(http::ResponseHead& head, std::unique_ptr<TunnelPeer>& upstream) override;

 private:
  void OnEvents(uint32_t events);
  // Called once the TLS handshake is done; returns false if the connection was handed off.
  bool OnHandshakeDone();
  // Gives the socket to the connection `next` makes of it (HTTP/2 on the same TLS session, a
  // WebSocket tunnel) and closes this one.
  template <class Next>
  void HandOver(Next next) {
    worker_.loop().Remove(transport_->fd());
    worker_.loop().CancelTimer(idle_timer_);
    idle_timer_ = 0;
    closed_ = true;
    worker_.Adopt(next(std::move(transport_)))->Start();
    worker_.Close(this);
  }
  void ReadInput();
  // HTTP/2 with prior knowledge (RFC 9113 3.4) on a cleartext port, as gRPC clients speak it:
  // true when the client's first bytes are (or may still become) the HTTP/2 preface; the
  // connection is then handed over to HTTP/2 (or waits for more bytes).
  bool TakePriorKnowledgeH2();
  void Process();
  bool ReadPaused() const;
  void Flush();
  void ScheduleFlush();
  void ArmIdleTimer(std::chrono::milliseconds after);
  void DisarmIdleTimer();
  void OnIdleTimer();
  void StartExchange();
  // The protocol of an Upgrade request that is passed through ("websocket"), else "".
  static std::string UpgradeProtocol(const http::RequestHead& head);
  void HandleParseError();
  void CloseAfterWrite();
  void CloseNow();

  Worker& worker_;
  std::unique_ptr<Transport> transport_;
  SocketAddress local_;
  SocketAddress peer_;
  std::string peer_text_;
  std::string peer_ip_;
  std::string local_ip_;
  std::shared_ptr<const Config> accept_config_;  // keeps the TLS SNI callback's data alive
  std::string sni_;
  Buffer in_;
  Buffer out_;
  http::RequestParser parser_;

  // The request being served.
  // The exchange lives in the connection (no allocation per request), one at a time: the
  // current one, or the one that finished, destroyed off its call stack when the next starts.
  // Each pointer is null or points into exchange_slot_; never both at once.
  void DestroyExchange(Exchange*& exchange);
  std::optional<Exchange> exchange_slot_;
  Exchange* exchange_ = nullptr;
  Exchange* retired_exchange_ = nullptr;
  bool keep_alive_ = true;
  int version_minor_ = 1;
  bool response_chunked_ = false;
  bool request_body_ended_ = false;  // the parser saw the end of the current request

  bool processing_ = false;
  bool peer_closed_ = false;
  bool closing_ = false;  // no more requests: close once out_ is written
  bool closed_ = false;
  bool lingering_ = false;  // write side shut, draining input before close
  bool flush_scheduled_ = false;
  bool read_drained_ = false;  // the last read emptied the socket; wait for its next event
  EventLoop::TimerId idle_timer_ = 0;
  Clock::time_point idle_timer_fires_{};                        // of the armed timer
  Clock::time_point idle_deadline_ = Clock::time_point::max();  // max: disarmed
  bool head_timer_armed_ = false;
  bool preface_checked_ = false;  // the first bytes were looked at for an h2c preface
  // Cleared on destruction: deferred work checks it before touching the connection.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xgate::proxy
