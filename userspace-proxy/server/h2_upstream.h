// HTTP/2 to backends: cleartext with prior knowledge (appProtocol kubernetes.io/h2c, RFC 9113
// 3.3), or over the cluster's TLS with h2 chosen in ALPN (BackendTLSPolicy): one nghttp2
// client session per upstream connection, requests multiplexed as
// streams, a few sessions per endpoint, each filled up to the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS before another is opened.
// Everything here belongs to one worker's loop.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "userspace-proxy/http/message.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/h2_fields.h"
#include "userspace-proxy/server/upstream.h"

namespace xgate::proxy {

class H2UpstreamStream;

// The user of one upstream stream (a request exchange).
class H2StreamClient {
 public:
  virtual ~H2StreamClient() = default;
  // The final response head (1xx ones are dropped); `end_stream`: no body or trailers follow.
  virtual void OnH2ResponseHead(H2UpstreamStream& stream, http::ResponseHead& head,
                                bool end_stream) = 0;
  virtual void OnH2ResponseData(H2UpstreamStream& stream, std::string_view data) = 0;
  // The response is complete. The stream is gone after this call.
  virtual void OnH2ResponseEnd(H2UpstreamStream& stream,
                               const std::vector<http::Header>& trailers) = 0;
  // The stream failed (reset, connection lost, protocol error). `unprocessed`: the backend
  // certainly did not act on it (never sent, REFUSED_STREAM, above a GOAWAY's last stream
  // id): safe to send again. The stream is gone after this call.
  virtual void OnH2StreamFailed(H2UpstreamStream& stream, bool unprocessed, std::string why) = 0;
  // The request body queued for the stream went below the high-water mark.
  virtual void OnH2RequestDrained(H2UpstreamStream& stream) {}
};

class H2Session;

class H2UpstreamStream {
 public:
  // Request body bytes, sent as the peer's flow-control windows allow.
  void SendData(std::string_view bytes);
  // The request is complete (with trailers, possibly none).
  void EndRequest(std::vector<http::Header> trailers);
  size_t pending_request() const { return body_.size(); }
  // Response DATA is given back to the peer's window only while not paused.
  void PauseResponse() { paused_ = true; }
  void ResumeResponse();
  // The client lets go: the stream is reset unless it ended, and no callback follows.
  void Cancel();
  UpstreamConnection& connection();
  const std::string& endpoint();
  bool headers_sent() const { return headers_sent_; }
  bool response_started() const { return response_started_; }
  // Closed by the peer with REFUSED_STREAM or above its GOAWAY's last stream id.
  bool refused() const { return refused_; }
  // Reset by us: the peer took none of the waiting request body for the stall timeout.
  bool stalled() const { return stalled_; }
  // An extended CONNECT never sent: the peer's SETTINGS did not enable it (RFC 8441 3).
  bool no_extended_connect() const { return no_extended_connect_; }
  // Another user takes the stream's callbacks from now on (an upgraded stream's tunnel).
  void SetClient(H2StreamClient* client) { client_ = client; }

 private:
  friend class H2Session;
  H2UpstreamStream(H2Session& session, H2StreamClient* client)
      : session_(session), client_(client) {}
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void* user);

  H2Session& session_;
  H2StreamClient* client_;
  int32_t id_ = -1;
  Buffer body_;
  bool body_done_ = false;
  bool deferred_ = false;  // the data provider is waiting for bytes
  std::vector<http::Header> trailers_out_;
  // The request's header block, then its trailers' (nghttp2 reads it as it serializes).
  H2HeaderBlock block_;
  bool headers_sent_ = false;
  bool response_started_ = false;
  bool ended_ = false;
  bool refused_ = false;  // the whole response was delivered
  bool stalled_ = false;
  bool no_extended_connect_ = false;
  bool extended_connect_ = false;  // an extended CONNECT: DATA both ways, no END_STREAM yet
  bool in_trailers_ = false;
  bool paused_ = false;
  // While body_ holds bytes: when the peer last took some (or they started waiting).
  Clock::time_point waiting_since_;
  size_t unconsumed_ = 0;
  http::ResponseHead head_;
  std::vector<http::Header> trailers_in_;
};

// What a request stream starts with.
struct H2RequestStart {
  const http::RequestHead* head = nullptr;  // hop-by-hop fields already removed
  bool te_trailers = false;                 // the client sent "TE: trailers" (gRPC)
  bool has_body = false;
  // Not empty: an extended CONNECT (RFC 8441) with this :protocol ("websocket") in place of
  // the head's method, sent once the peer's SETTINGS allow it; its DATA flows both ways.
  std::string_view protocol;
};

class H2Pool {
 public:
  // At most this many sessions per endpoint; past it, streams queue in the least busy one.
  static constexpr size_t kMaxSessionsPerEndpoint = 4;

  explicit H2Pool(UpstreamPool& pool) : pool_(pool) {}
  ~H2Pool();

  // A stream to an endpoint of `cluster` (chosen as UpstreamPool::Acquire does) on a session
  // with room, or on a new connection. nullptr with `error` when no endpoint is left.
  H2UpstreamStream* Open(std::string_view cluster_name, const ClusterEndpoints& cluster,
                         std::span<const std::string> tried, const H2RequestStart& request,
                         H2StreamClient* client, std::string* error, bool skip_ejected,
                         int preferred = -1);
  UpstreamPool& upstreams() { return pool_; }

 private:
  friend class H2Session;
  // The session is done (closed or after GOAWAY with no stream left): destroyed after this
  // round.
  void Remove(H2Session* session);

  UpstreamPool& pool_;
  bool shutting_down_ = false;
  std::unordered_map<std::string, std::vector<std::unique_ptr<H2Session>>>
      sessions_;  // by pool key (endpoint, and TLS settings)
};

class H2Session : public UpstreamClient {
 public:
  explicit H2Session(H2Pool& pool) : pool_(pool) {}
  ~H2Session() override;
  // Speaks HTTP/2 on `connection` (whose client this session already is).
  void Start(UpstreamConnection* connection);

  // Whether a new stream may go here now (not closing, below the peer's stream limit).
  bool HasRoom() const;
  bool closing() const { return closing_; }
  size_t active_streams() const { return streams_.size() + waiting_.size(); }
  H2UpstreamStream* Submit(const H2RequestStart& request, H2StreamClient* client);
  UpstreamConnection& connection() { return *connection_; }

  void OnUpstreamConnected(UpstreamConnection& upstream) override;
  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;
  void OnUpstreamDrained(UpstreamConnection& upstream) override;

 private:
  friend class H2UpstreamStream;
  friend class H2Pool;
  // Writes what nghttp2 has to send, up to the connection's high-water mark.
  void Flush();
  // One Flush after this loop round: the frames of every stream touched in the round (a
  // request's HEADERS, DATA and END_STREAM, other streams' requests, acks) go out in one write.
  void ScheduleFlush();
  // The session closes and every stream fails (`unprocessed` for those whose headers never
  // went out).
  void FailAll(std::string why, bool all_unprocessed);
  void Close();
  void StreamGone(H2UpstreamStream* stream);
  void ArmIdleTimer();
  // A stream's request body started waiting: the stall check runs while any waits.
  void WatchStall();
  void ArmStallCheck(Clock::duration after);
  // Streams whose waiting body the peer took nothing of for the stall timeout are reset
  // and their clients told (stalled()).
  void CheckStalls();
  H2UpstreamStream* Find(int32_t id);
  // Hands a built request to nghttp2 and keeps the stream (moved from `owned`); false when
  // nghttp2 refuses it (`owned` left as it was).
  bool SubmitNow(std::unique_ptr<H2UpstreamStream>& owned, bool with_body);
  // Once the peer's SETTINGS came: the extended CONNECTs waiting for them are sent, or
  // failed (no_extended_connect) when the peer did not enable them.
  void SubmitWaiting();

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int error, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);

  H2Pool& pool_;
  UpstreamConnection* connection_ = nullptr;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<H2UpstreamStream>> streams_;
  // Extended CONNECTs built before the peer's SETTINGS told whether it takes them.
  std::vector<std::unique_ptr<H2UpstreamStream>> waiting_;
  // The stream Find() returned last: nghttp2 calls back per header field and frame of one
  // stream in a row. Reset when that stream is erased.
  int32_t found_id_ = 0;
  H2UpstreamStream* found_ = nullptr;
  bool closing_ = false;  // GOAWAY received, or the connection is going
  bool closed_ = false;
  bool settings_received_ = false;
  bool in_nghttp2_ = false;       // inside mem_recv or mem_send: no Flush from their callbacks
  bool flush_scheduled_ = false;  // a ScheduleFlush waits for the end of the round
  EventLoop::TimerId timer_ = 0;  // no SETTINGS from the peer in time, then idle
  EventLoop::TimerId stall_timer_ = 0;
};

}  // namespace xgate::proxy
