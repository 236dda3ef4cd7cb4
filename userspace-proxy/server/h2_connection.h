// A downstream HTTP/2 connection (TLS with ALPN h2), through nghttp2. Each stream is one
// Exchange, so requests take the same routing, filters and upstream path as HTTP/1.1 and go
// upstream as HTTP/1.1. Flow control gives backpressure both ways: request DATA is
// acknowledged to the client only as the upstream takes it, and a stream's response is
// read from the upstream only while the connection's buffered bytes are below the buffer
// limit. Abuse (H2Guard's thresholds, nghttp2's own flood checks, output stalled by a zero
// window) ends the connection with GOAWAY and is counted by kind. An extended CONNECT
// (RFC 8441, :protocol websocket) becomes an HTTP/1.1 WebSocket upgrade upstream and then a
// tunnel on its stream (H2WebSocket).
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/exchange.h"
#include "userspace-proxy/server/h2_fields.h"
#include "userspace-proxy/server/h2_guard.h"
#include "userspace-proxy/server/h2_websocket.h"
#include "userspace-proxy/server/transport.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class H2Connection;

// One request stream. The object, with its exchange held in place, is reused for later
// streams of its connection: a stream costs no allocation of its own (an Exchange is past
// malloc's per-thread cache sizes).
class H2Stream : public ExchangeOwner {
 public:
  explicit H2Stream(H2Connection& connection);
  ~H2Stream() override;

  void Open(int32_t id);
  // Destroys the exchange and resets every per-stream field below, ready for Open.
  void Close();

  void ResponseHead(http::ResponseHead& head, ResponseBody body, uint64_t content_length) override;
  void ResponseData(std::string_view data) override;
  void ResponseEnd(const std::vector<http::Header>& trailers) override;
  void ResponseAbort() override;
  size_t ResponseBuffered() const override;
  void RequestBodyDrained() override;
  void ExchangeFinished() override;
  // The backend's 101 to an extended CONNECT: the client gets 200, the stream a tunnel.
  bool TakeUpgrade(http::ResponseHead& head, std::unique_ptr<TunnelPeer>& upstream) override;

  // The exchange once its request started; before the header block's end it only collects
  // the request head, and has nothing to log or resume.
  Exchange* started() { return headers_done_ && exchange_ ? &*exchange_ : nullptr; }

 private:
  friend class H2Connection;
  friend class H2WebSocket;
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  H2Connection& connection_;
  stats::WorkerStats& stats_;  // the worker's, which outlives a stream destroyed late
  bool open_ = false;
  // Per stream (Close resets them):
  int32_t id_ = 0;
  bool head_request_ = false;
  std::string cookies_;
  std::vector<http::Header> trailers_in_;
  bool headers_done_ = false;
  size_t header_bytes_ = 0;  // decoded, as RFC 7541 counts (name + value + 32)
  bool headers_too_large_ = false;
  bool request_ended_ = false;
  size_t unacknowledged_ = 0;  // request DATA bytes not yet given back to flow control
  // Made when the request's header block begins: OnHeader fills its request head in place,
  // and the header block's end starts it (or drops it: 431, a malformed request).
  std::optional<Exchange> exchange_;
  Buffer body_;  // response bytes waiting for nghttp2 to send
  bool body_ended_ = false;
  std::vector<http::Header> trailers_out_;
  // The response's header block, then its trailers' (nghttp2 reads it as it serializes).
  H2HeaderBlock block_;
  bool deferred_ = false;  // the data provider is waiting for bytes
  std::string protocol_;   // an extended CONNECT's :protocol (RFC 8441)
  // An extended CONNECT for a WebSocket whose upgrade is under way: a 2xx that is not the
  // backend's 101 is no tunnel (answered 502), and client DATA waits in early_.
  bool websocket_pending_ = false;
  std::string early_;
  std::unique_ptr<H2WebSocket> websocket_;  // after the 101
};

class H2Connection : public Connection {
 public:
  // `early_input`: bytes already read from the client (an h2c connection's preface, found
  // by the HTTP/1.1 connection that read them).
  H2Connection(Worker& worker, std::unique_ptr<Transport> transport, SocketAddress local,
               SocketAddress peer, std::string sni, std::string_view early_input = {});
  ~H2Connection() override;

  void Start();
  // Graceful stop (RFC 9113 6.8): a shutdown notice and a PING; on its ACK (or after a
  // while) the final GOAWAY with the last stream taken; the streams taken finish, then the
  // connection closes.
  void Drain() override;

 private:
  friend class H2Stream;
  friend class H2WebSocket;
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static int OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);

  void OnEvents(uint32_t events);
  void ArmIdleCheck();
  void ReadInput();
  // Serializes what nghttp2 has to send and writes it (soon: batched per loop round).
  void ScheduleSend();
  void SendPending();
  void StartRequest(H2Stream& stream);
  // An extended CONNECT (RFC 8441): a WebSocket one becomes an Upgrade request, another
  // protocol is answered 501.
  bool StartExtendedConnect(H2Stream& stream, ExchangeRequest& request);
  void EndRequest(H2Stream& stream);
  H2Stream* Find(int32_t id);
  // Answers a request whose header list is over the limit, without routing it.
  void RejectHeaders(H2Stream& stream);
  // A bodiless answer of the proxy's own, counted as a request without route.
  void AnswerLocally(H2Stream& stream, int status);
  // The peer is abusive: count it, GOAWAY with the kind's code, linger and close.
  void Abuse(stats::H2Abuse kind);
  // The final GOAWAY of a drain, once the client has had a round trip to see the notice.
  void FinishDrain();
  // Output written, input drained and discarded (bounded), then closed: so the peer reads
  // our last frames instead of a reset.
  void Linger();
  // Watches buffered response bytes that make no progress (a window held at zero).
  void ArmStallCheck(std::chrono::milliseconds after);
  void NoteBuffered(size_t before);
  // A stream object for a new stream: a spare one, else a new one.
  std::unique_ptr<H2Stream> TakeStream();
  // Closes a stream nghttp2 closed after this round (its exchange may be on the call stack)
  // and keeps the object as a spare.
  void Retire(std::unique_ptr<H2Stream> stream);
  void ResumeAll();
  size_t buffer_limit() const { return worker_.upstreams().high_water(); }
  void Close();

  Worker& worker_;
  std::unique_ptr<Transport> transport_;
  SocketAddress local_;
  SocketAddress peer_;
  std::string peer_text_;
  std::string peer_ip_;
  std::string local_ip_;
  std::string sni_;
  nghttp2_session* session_ = nullptr;
  absl::flat_hash_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  // The stream Find() returned last: nghttp2 calls back once per header field of a block, all
  // for the same stream, so most lookups need no hash. Reset when that stream is erased.
  int32_t found_id_ = 0;
  H2Stream* found_ = nullptr;
  std::vector<std::unique_ptr<H2Stream>> retired_;  // closed this round
  std::vector<std::unique_ptr<H2Stream>> spare_;    // at most max_concurrent_streams
  Buffer in_;
  Buffer out_;
  size_t buffered_ = 0;  // response bytes in every stream's body_
  bool send_scheduled_ = false;
  bool closed_ = false;
  bool lingering_ = false;
  H2Guard guard_;
  std::optional<stats::H2Abuse> abuse_;  // found in a callback, acted on after mem_recv
  EventLoop::TimerId idle_timer_ = 0;
  EventLoop::TimerId stall_timer_ = 0;
  EventLoop::TimerId linger_timer_ = 0;
  EventLoop::TimerId drain_timer_ = 0;
  bool draining_ = false;
  bool final_goaway_ = false;
  Clock::time_point last_progress_ = Clock::now();
  Clock::time_point last_activity_ = Clock::now();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xgate::proxy
