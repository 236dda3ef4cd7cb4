// Http1Connection: handing an upgraded (WebSocket) connection to an UpgradeTunnel.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/http1_connection.h"
#include "userspace-proxy/server/upgrade_tunnel.h"

namespace xgate::proxy {

// Only WebSocket is passed through: an h2c upgrade, for one, is not ours to forward.
std::string Http1Connection::UpgradeProtocol(const http::RequestHead& head) {
  if (head.version_minor < 1) return "";
  std::optional<std::string> value = head.headers.GetJoined("Upgrade");
  if (!value) return "";
  for (absl::string_view token : absl::StrSplit(*value, ',')) {
    token = absl::StripAsciiWhitespace(token);
    if (absl::EqualsIgnoreCase(token, "websocket")) return std::string(token);
  }
  return "";
}

bool Http1Connection::TakeUpgrade(http::ResponseHead& head, std::unique_ptr<TunnelPeer>& upstream) {
  if (closed_ || closing_ || !transport_) return false;
  head.version_minor = 1;
  http::AppendResponseHead(head, out_.Tail());
  std::string to_client(out_.view());
  std::string to_upstream(in_.view());  // what the client sent after its request head
  AccessLogEntry log;
  if (exchange_) {
    log = exchange_->TunnelLog("HTTP/1.1 Upgrade", exchange_->method(), 101, upstream->endpoint());
  }
  HandOver([&](std::unique_ptr<Transport> transport) {
    return std::make_unique<UpgradeTunnel>(worker_, std::move(transport), std::move(upstream),
                                           to_client, to_upstream, std::move(log));
  });
  return true;
}

}  // namespace xgate::proxy
