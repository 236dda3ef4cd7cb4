// One downstream HTTP/1.1 connection (plain or TLS): read -> parse -> route -> filters ->
// redirect or upstream -> response filters -> write. Requests are served one at a time in
// arrival order (pipelined requests wait in the input buffer); bodies stream both ways.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/routing/filters.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/transport.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Mirror;

class Http1Connection : public Connection, public UpstreamClient {
 public:
  Http1Connection(Worker& worker, std::unique_ptr<Transport> transport, SocketAddress local,
                  SocketAddress peer, std::shared_ptr<const Config> accept_config);
  ~Http1Connection() override;

  void Start();

  // UpstreamClient
  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;
  void OnUpstreamDrained(UpstreamConnection& upstream) override;

 private:
  // The request being served.
  struct Exchange {
    bool active = false;
    std::shared_ptr<const Config> config;  // pinned for the whole exchange
    http::RequestHead request;
    http::BodyFraming request_framing = http::BodyFraming::kNone;
    bool request_done = false;
    bool response_started = false;  // head written downstream
    bool response_done = false;
    bool keep_alive = true;     // downstream
    bool discard_body = false;  // answered locally: drop the rest of the request body
    const routing::CompiledRoute* route = nullptr;
    routing::FilterOutcome filters;
    std::string cluster;
    const ClusterEndpoints* endpoints = nullptr;
    UpstreamConnection* upstream = nullptr;
    std::vector<std::string> tried;
    std::string replay;  // bytes sent upstream, kept while small, to retry a stale connection
    bool replay_complete = true;
    bool retried_stale = false;
    bool upstream_keep_alive = true;
    bool interim = false;  // parsing a 1xx response
    bool response_chunked = false;
    bool response_until_close = false;
    std::vector<Mirror*> mirrors;
    EventLoop::TimerId request_timer = 0;
    EventLoop::TimerId backend_timer = 0;
    Clock::time_point started;
    Clock::time_point upstream_started;
    AccessLogEntry log;
  };

  void OnEvents(uint32_t events);
  void ReadInput();
  void Process();
  bool ReadPaused() const;
  void Flush();
  void ArmIdleTimer(std::chrono::milliseconds after);

  void StartExchange();
  void OnRequestBody(std::string_view data);
  void OnRequestComplete();
  void SendUpstream(std::string_view bytes);
  bool ConnectUpstream(std::string pending);
  void LocalReply(int status, std::string_view body, std::vector<http::Header> headers,
                  std::string error);
  void FailExchange(int status, std::string error);  // upstream-side failure
  void HandleParseError();
  void OnResponseHead();
  void OnResponseComplete(UpstreamConnection& upstream);
  void DetachUpstream(bool reusable);
  void MaybeFinishExchange();
  void FinishExchange();
  void CloseAfterWrite();
  void CloseNow();

  Worker& worker_;
  std::unique_ptr<Transport> transport_;
  SocketAddress local_;
  SocketAddress peer_;
  std::string peer_text_;
  std::string local_ip_;
  std::shared_ptr<const Config> accept_config_;  // keeps the TLS SNI callback's data alive
  std::string sni_;
  Buffer in_;
  Buffer out_;
  http::RequestParser parser_;
  Exchange ex_;
  bool processing_ = false;
  bool peer_closed_ = false;
  bool closing_ = false;  // no more requests: close once out_ is written
  bool closed_ = false;
  bool lingering_ = false;  // write side shut, draining input before close
  EventLoop::TimerId idle_timer_ = 0;
  bool head_timer_armed_ = false;
};

}  // namespace xgate::proxy
