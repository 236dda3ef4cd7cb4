// WebSocket (HTTP/1.1 Upgrade) through the real proxy on loopback: the upgrade reaches the
// backend, bytes are relayed both ways after its 101, the idle timeout closes a silent
// tunnel, and a tunnel keeps its backend across a config push.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy {
namespace {

using testing::Client;
using testing::TestUpstream;

constexpr char kUpgrade[] =
    "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

using testing::ReadRaw;

class ProxyWebSocketTest : public ProxyServerTest {
 protected:
  // Sends the upgrade and reads the 101 head; returns what followed it.
  std::string Upgrade(Client& client) {
    client.Send(kUpgrade);
    std::string head;
    EXPECT_TRUE(ReadRaw(client.fd(), head, 0)) << head;
    EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    EXPECT_NE(head.find("Upgrade: websocket"), std::string::npos) << head;
    EXPECT_NE(head.find("Connection: Upgrade"), std::string::npos) << head;
    return head.substr(head.find("\r\n\r\n") + 4);
  }
  // Sends `message` and expects it back.
  void Echo(Client& client, const std::string& message) {
    client.Send(message);
    std::string back;
    EXPECT_TRUE(ReadRaw(client.fd(), back, message.size())) << back;
    EXPECT_EQ(back, message);
  }
  api::ProxyStats Stats() { return server_->Stats(); }
};

TEST_F(ProxyWebSocketTest, UpgradeIsPassedThroughAndBytesFlowBothWays) {
  TestUpstream up("up");
  Apply(Simple(up));
  Client client("127.0.0.1", port_);
  EXPECT_EQ(Upgrade(client), "");
  ASSERT_TRUE(up.WaitRequests(1));
  testing::ReceivedRequest request = up.requests()[0];
  EXPECT_EQ(request.headers["upgrade"], "websocket");
  EXPECT_EQ(request.headers["connection"], "Upgrade");
  EXPECT_EQ(request.headers["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
  Echo(client, "hello");
  Echo(client, std::string(300 * 1024, 'w'));  // more than one read, backpressure included
  EXPECT_EQ(Stats().upgrades_total(), 1u);
  EXPECT_EQ(Stats().upgrades_open(), 1u);
  // The client closes: the tunnel closes (the upstream sees EOF and closes too).
  shutdown(client.fd(), SHUT_WR);
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
}

// Bytes the client sends right behind its upgrade request are not lost.
TEST_F(ProxyWebSocketTest, BytesRightAfterTheRequestAreRelayed) {
  TestUpstream up("up");
  Apply(Simple(up));
  Client client("127.0.0.1", port_);
  client.Send(std::string(kUpgrade) + "early");
  std::string data;
  ASSERT_TRUE(ReadRaw(client.fd(), data, 0));
  std::string after = data.substr(data.find("\r\n\r\n") + 4);
  ASSERT_TRUE(ReadRaw(client.fd(), after, 5));
  EXPECT_EQ(after, "early");
}

TEST_F(ProxyWebSocketTest, IdleTimeoutClosesTheTunnel) {
  TestUpstream up("up");
  StartServer(1, 15s, /*idle_timeout=*/300ms);
  Apply(Simple(up));
  Client client("127.0.0.1", port_);
  auto start = std::chrono::steady_clock::now();
  Upgrade(client);
  EXPECT_TRUE(client.WaitClosed(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);  // closed by the idle timer
  EXPECT_TRUE(testing::WaitFor([&] { return Stats().upgrades_open() == 0; }));
}

TEST_F(ProxyWebSocketTest, TunnelSurvivesAConfigPushAndKeepsItsBackend) {
  TestUpstream a("a"), b("b");
  Apply(Simple(a));
  Client client("127.0.0.1", port_);
  Upgrade(client);
  Echo(client, "before");
  Apply(Simple(b));  // every new request goes to b now
  EXPECT_EQ(testing::Get(port_, "h", "/x").headers["x-upstream"], "b");
  Echo(client, "after");
  EXPECT_NE(a.raw().find("after"), std::string::npos);
  EXPECT_EQ(b.raw().find("after"), std::string::npos);
}

// Only WebSocket is passed through: another Upgrade (h2c) is dropped as hop-by-hop and the
// request served as plain HTTP/1.1.
TEST_F(ProxyWebSocketTest, OtherUpgradesAreNotForwarded) {
  TestUpstream up("up");
  Apply(Simple(up));
  Client client("127.0.0.1", port_);
  client.Send(
      "GET /p HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
  EXPECT_EQ(client.Read().status, 200);
  ASSERT_TRUE(up.WaitRequests(1));
  EXPECT_EQ(up.requests()[0].headers.count("upgrade"), 0u);
  EXPECT_EQ(Stats().upgrades_total(), 0u);
}

}  // namespace
}  // namespace xgate::proxy
