#include "userspace-proxy/server/h2_websocket.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "userspace-proxy/server/h2_connection.h"

namespace xgate::proxy {
namespace {

std::string Base64(const unsigned char* data, size_t size) {
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(data), size));
}

}  // namespace

std::string NewWebSocketKey() {
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  return Base64(nonce, sizeof nonce);
}

std::string WebSocketAccept(std::string_view key) {
  std::string text(key);
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return Base64(digest, sizeof digest);
}

H2WebSocket::H2WebSocket(H2Stream& stream, std::unique_ptr<TunnelPeer> upstream,
                         std::string_view early, AccessLogEntry log)
    : stream_(stream),
      worker_(stream.connection_.worker_),
      upstream_(std::move(upstream)),
      idle_(worker_.loop(), worker_.options().idle_timeout, [this] { OnIdle(); }),
      log_(std::move(log)) {
  worker_.stats().UpgradeOpened();
  if (!early.empty()) {
    log_.bytes_in += early.size();
    upstream_->Send(early);
  }
}

H2WebSocket::~H2WebSocket() {
  upstream_.reset();
  worker_.stats().UpgradeClosed();
  log_.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  AccessLog::Write(log_);
}

void H2WebSocket::StreamClosed(uint32_t error_code) {
  if (log_.error.empty() && error_code != NGHTTP2_NO_ERROR) {
    log_.error = absl::StrCat("stream reset (", nghttp2_http2_strerror(error_code), ")");
  }
}

void H2WebSocket::Start() {
  idle_.Touch();
  upstream_->Start(this);
}

bool H2WebSocket::FromClient(std::string_view data) {
  if (!data.empty()) {
    log_.bytes_in += data.size();
    upstream_->Send(data);
    idle_.Touch();
  }
  return upstream_->pending() < worker_.upstreams().high_water();
}

void H2WebSocket::ClientEnded() { upstream_->EndSend(); }

void H2WebSocket::OnPeerData(std::string_view data) {
  if (upstream_eof_) return;
  log_.bytes_out += data.size();
  stream_.ResponseData(data);
  idle_.Touch();
  if (stream_.ResponseBuffered() >= worker_.upstreams().high_water()) {
    upstream_->PauseRead(true);  // H2Connection::ResumeAll resumes it
  }
}

void H2WebSocket::OnPeerEnd(bool error) {
  if (upstream_eof_) return;
  upstream_eof_ = true;
  // A reset is passed on as one; an orderly close ends the stream after its bytes.
  if (error) {
    if (log_.error.empty()) log_.error = "upstream reset";
    stream_.ResponseAbort();
  } else {
    stream_.ResponseEnd({});
  }
}

// The backend took the client's bytes: what the stream held unacknowledged is given back.
void H2WebSocket::OnPeerDrained() { stream_.RequestBodyDrained(); }

void H2WebSocket::OnIdle() {
  // The stream's close (OnStreamClose) destroys this tunnel.
  if (log_.error.empty()) log_.error = "idle timeout";
  H2Connection& connection = stream_.connection_;
  nghttp2_submit_rst_stream(connection.session_, NGHTTP2_FLAG_NONE, stream_.id_, NGHTTP2_CANCEL);
  connection.ScheduleSend();
}

}  // namespace xgate::proxy
