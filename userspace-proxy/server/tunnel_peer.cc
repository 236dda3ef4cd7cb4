#include "userspace-proxy/server/tunnel_peer.h"

#include <optional>
#include <utility>

namespace xgate::proxy {
namespace {

class ConnectionPeer : public TunnelPeer, public UpstreamClient {
 public:
  ConnectionPeer(UpstreamPool& pool, UpstreamConnection& connection)
      : TunnelPeer(connection.endpoint()), pool_(pool), connection_(&connection) {}
  ~ConnectionPeer() override { pool_.Release(connection_, false); }

  // The connection tells its new client of bytes already received after this round.
  void Start(TunnelPeerClient* client) override {
    client_ = client;
    connection_->SetClient(this);
  }
  void Send(std::string_view data) override { connection_->Send(data); }
  void EndSend() override { connection_->ShutdownWriteWhenFlushed(); }
  size_t pending() const override { return connection_->pending_output(); }
  void PauseRead(bool paused) override { connection_->SetReadPaused(paused); }

  void OnUpstreamConnectFailed(UpstreamConnection&, bool) override {}
  void OnUpstreamReadable(UpstreamConnection& connection, bool eof, bool error) override {
    if (ended_) return;
    if (!connection.input().empty()) {
      client_->OnPeerData(connection.input().view());
      connection.input().Clear();
    }
    if (eof) {
      ended_ = true;
      client_->OnPeerEnd(error);
    }
  }
  void OnUpstreamDrained(UpstreamConnection&) override { client_->OnPeerDrained(); }

 private:
  UpstreamPool& pool_;
  UpstreamConnection* connection_;
  TunnelPeerClient* client_ = nullptr;
  bool ended_ = false;
};

// The stream is taken over at once: what the backend sends before Start is kept for it.
class StreamPeer : public TunnelPeer, public H2StreamClient {
 public:
  explicit StreamPeer(H2UpstreamStream& stream) : TunnelPeer(stream.endpoint()), stream_(&stream) {
    stream.SetClient(this);
  }
  ~StreamPeer() override {
    if (stream_) stream_->Cancel();
  }

  void Start(TunnelPeerClient* client) override {
    client_ = client;
    if (!early_.empty()) client_->OnPeerData(std::exchange(early_, {}));
    if (ended_) client_->OnPeerEnd(*ended_);
  }
  void Send(std::string_view data) override {
    if (stream_) stream_->SendData(data);
  }
  void EndSend() override {
    if (stream_) stream_->EndRequest({});
  }
  size_t pending() const override { return stream_ ? stream_->pending_request() : 0; }
  void PauseRead(bool paused) override {
    if (!stream_) return;
    if (paused) {
      stream_->PauseResponse();
    } else {
      stream_->ResumeResponse();
    }
  }

  void OnH2ResponseHead(H2UpstreamStream&, http::ResponseHead&, bool) override {}
  void OnH2ResponseData(H2UpstreamStream&, std::string_view data) override {
    if (client_) {
      client_->OnPeerData(data);
    } else {
      early_.append(data);  // bounded by the stream's window: Start comes in the same round
    }
  }
  // The backend's END_STREAM: what the client has queued still goes, then our side ends too
  // (the stream is not ours to send on once it has no client).
  void OnH2ResponseEnd(H2UpstreamStream& stream, const std::vector<http::Header>&) override {
    stream.EndRequest({});
    End(false);
  }
  void OnH2StreamFailed(H2UpstreamStream&, bool, std::string) override { End(true); }
  void OnH2RequestDrained(H2UpstreamStream&) override {
    if (client_) client_->OnPeerDrained();
  }

 private:
  void End(bool error) {
    stream_ = nullptr;  // gone after the callback
    if (client_) {
      client_->OnPeerEnd(error);
    } else {
      ended_ = error;
    }
  }

  H2UpstreamStream* stream_;
  TunnelPeerClient* client_ = nullptr;
  std::string early_;
  std::optional<bool> ended_;  // the end (a reset: true) that came before Start
};

}  // namespace

std::unique_ptr<TunnelPeer> ConnectionTunnelPeer(UpstreamPool& pool,
                                                 UpstreamConnection& connection) {
  return std::make_unique<ConnectionPeer>(pool, connection);
}

std::unique_ptr<TunnelPeer> StreamTunnelPeer(H2UpstreamStream& stream) {
  return std::make_unique<StreamPeer>(stream);
}

}  // namespace xgate::proxy
