// X4 over HTTP/2 (tests/conformance/FORMAT.md): a WebSocket by an extended CONNECT (RFC 8441)
// on nghttp2's client session, over the blocking stream of Client::Open (its socket timeouts
// bound every read).
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/conformance/client.h"

namespace xgate::conformance {
namespace {

// One connection with one tunnel stream.
class H2Tunnel {
 public:
  explicit H2Tunnel(echo::Stream& stream) : stream_(stream) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrame);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnClose);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Tunnel() { nghttp2_session_del(session_); }
  H2Tunnel(const H2Tunnel&) = delete;
  H2Tunnel& operator=(const H2Tunnel&) = delete;

  // Runs the session until `done` holds; an error when the connection ends or a read times
  // out first.
  absl::Status Pump(const std::function<bool()>& done) {
    for (;;) {
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
        absl::string_view bytes(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        if (absl::Status st = stream_.WriteAll(bytes); !st.ok()) return st;
      }
      if (done()) return absl::OkStatus();
      if (closed_) return absl::UnavailableError("the stream was closed");
      absl::StatusOr<std::string> got = stream_.ReadSome(16384);
      if (!got.ok()) return got.status();
      if (got->empty()) return absl::UnavailableError("the connection was closed");
      ssize_t used = nghttp2_session_mem_recv(
          session_, reinterpret_cast<const uint8_t*>(got->data()), got->size());
      if (used < 0) {
        return absl::UnavailableError(
            absl::StrCat("HTTP/2: ", nghttp2_strerror(static_cast<int>(used))));
      }
    }
  }

  bool settings_seen() const { return settings_seen_; }
  bool connect_protocol() const {
    return nghttp2_session_get_remote_settings(session_,
                                               NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1;
  }

  void Open(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                     value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = &H2Tunnel::ReadOut;
    id_ = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, this);
  }
  void Send(absl::string_view bytes) {
    to_send_.append(bytes.data(), bytes.size());
    nghttp2_session_resume_data(session_, id_);
  }

  Response& response() { return response_; }
  std::string& received() { return received_; }

 private:
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2Tunnel*>(user);
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      self->settings_seen_ = true;
    }
    return 0;
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2Tunnel*>(user);
    if (frame->hd.stream_id != self->id_) return 0;
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      if (!absl::SimpleAtoi(v, &self->response_.status)) self->response_.status = -1;
    } else {
      self->response_.headers.push_back({echo::CanonicalHeaderKey(n), v});
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<H2Tunnel*>(user);
    if (id == self->id_) self->received_.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t, void* user) {
    auto* self = static_cast<H2Tunnel*>(user);
    if (id == self->id_) self->closed_ = true;
    return 0;
  }
  static ssize_t ReadOut(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t*,
                         nghttp2_data_source*, void* user) {
    auto* self = static_cast<H2Tunnel*>(user);
    size_t n = std::min(length, self->to_send_.size());
    if (n == 0) return NGHTTP2_ERR_DEFERRED;  // the stream stays open
    std::memcpy(buf, self->to_send_.data(), n);
    self->to_send_.erase(0, n);
    return static_cast<ssize_t>(n);
  }

  echo::Stream& stream_;
  nghttp2_session* session_ = nullptr;
  bool settings_seen_ = false;
  int32_t id_ = -1;
  bool closed_ = false;
  Response response_;
  std::string received_;
  std::string to_send_;
};

}  // namespace

absl::StatusOr<Response> Client::WebSocketH2(const std::string& address, const Request& r,
                                             const std::string& sni, absl::Duration timeout) {
  bool tls = r.scheme == "https";
  absl::StatusOr<std::unique_ptr<echo::Stream>> opened =
      Open(address, r.Port(), tls ? tls_h2_ : nullptr, sni, timeout);
  if (!opened.ok()) return opened.status();
  H2Tunnel tunnel(**opened);
  if (absl::Status st = tunnel.Pump([&] { return tunnel.settings_seen(); }); !st.ok()) {
    return absl::UnavailableError(absl::StrCat("no HTTP/2 SETTINGS: ", st.message()));
  }
  if (!tunnel.connect_protocol()) {
    return absl::UnavailableError(
        "the gateway does not announce SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)");
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", "CONNECT"},
      {":protocol", "websocket"},
      {":scheme", r.scheme},
      {":path", r.path},
      {":authority", RequestHost(r, address)},
      {"sec-websocket-version", "13"}};
  for (const auto& [name, value] : r.headers)
    fields.push_back({absl::AsciiStrToLower(name), value});
  tunnel.Open(fields);
  Response& response = tunnel.response();
  if (absl::Status st = tunnel.Pump([&] { return response.status != 0; }); !st.ok()) {
    return absl::UnavailableError(absl::StrCat("no response: ", st.message()));
  }
  if (response.status != 200) return response;
  std::string& received = tunnel.received();
  if (absl::Status st = tunnel.Pump([&] { return received.find('\n') != std::string::npos; });
      !st.ok()) {
    return absl::UnavailableError(absl::StrCat("after the 200: ", st.message()));
  }
  size_t newline = received.find('\n');
  response.body = received.substr(0, newline);
  received.erase(0, newline + 1);
  const std::string& bytes = *r.websocket;
  tunnel.Send(bytes);
  if (absl::Status st = tunnel.Pump([&] { return received.size() >= bytes.size(); }); !st.ok()) {
    return absl::UnavailableError(absl::StrCat("no echo through the WebSocket: ", st.message()));
  }
  response.websocket_echo = received.substr(0, bytes.size());
  return response;
}

}  // namespace xgate::conformance
