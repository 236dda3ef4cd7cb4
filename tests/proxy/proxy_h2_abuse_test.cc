// HTTP/2 abuse against the real proxy over TLS, with frames written by hand: each attack ends
// with GOAWAY and the code the fixed servers send, is counted by kind, leaves the proxy's
// memory bounded, and a well-behaved client on the same worker is served throughout.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/proxy/hostile.h"
#include "userspace-proxy/server/access_log.h"

namespace xgate::proxy::testing {
namespace {

using namespace std::chrono_literals;
using H2 = H2RawClient;

constexpr size_t kRssBound = 64 << 20;

class H2AbuseTest : public HostileTest {
 protected:
  // Runs `attack` on a fresh connection and expects GOAWAY `code`, counted as `kind`.
  void ExpectCutOff(const std::string& payload, uint32_t code, const std::string& kind,
                    std::vector<std::pair<uint16_t, uint32_t>> settings = {}) {
    H2 attacker(https_port_, std::move(settings));
    ASSERT_TRUE(attacker.ok());
    attacker.Send(payload);  // may fail midway: the proxy hangs up
    std::optional<uint32_t> goaway = attacker.WaitGoaway();
    ASSERT_TRUE(goaway.has_value()) << "no GOAWAY before the connection ended";
    EXPECT_EQ(*goaway, code) << nghttp2_http2_strerror(*goaway);
    EXPECT_EQ(AbuseCount(kind), 1u);
    ExpectRssGrowthBelow(kRssBound);
  }
};

TEST_F(H2AbuseTest, RapidResetIsCutOff) {
  StartProxy();
  StartWellBehaved();
  std::string flood;
  for (uint32_t id = 1; id < 2 * 1000; id += 2) {
    flood += H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                       H2::RequestBlock("GET", "/x"));
    flood += H2::Frame(NGHTTP2_RST_STREAM, 0, id, std::string("\0\0\0\x08", 4));  // CANCEL
  }
  ExpectCutOff(flood, NGHTTP2_ENHANCE_YOUR_CALM, "rapid_reset");
}

TEST_F(H2AbuseTest, ContinuationFloodIsCutOff) {
  StartProxy();
  StartWellBehaved();
  std::string flood = H2::Frame(NGHTTP2_HEADERS, 0, 1, H2::RequestBlock("GET", "/x"));
  for (int i = 0; i < 10000; ++i) {
    flood += H2::Frame(NGHTTP2_CONTINUATION, 0, 1, H2::Literal("x-pad", "0123456789"));
  }
  ExpectCutOff(flood, NGHTTP2_ENHANCE_YOUR_CALM, "continuation_flood");
}

TEST_F(H2AbuseTest, SettingsFloodIsCutOff) {
  StartProxy();
  StartWellBehaved();
  std::string flood;
  for (int i = 0; i < 20000; ++i) flood += H2::Frame(NGHTTP2_SETTINGS, 0, 0, "");
  ExpectCutOff(flood, NGHTTP2_ENHANCE_YOUR_CALM, "settings_flood");
}

TEST_F(H2AbuseTest, PingFloodIsCutOff) {
  StartProxy();
  StartWellBehaved();
  std::string flood;
  for (int i = 0; i < 20000; ++i) flood += H2::Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  ExpectCutOff(flood, NGHTTP2_ENHANCE_YOUR_CALM, "ping_flood");
}

TEST_F(H2AbuseTest, EmptyFrameFloodIsCutOff) {
  StartProxy();
  StartWellBehaved();
  std::string flood =
      H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, H2::RequestBlock("POST", "/x"));
  for (int i = 0; i < 20000; ++i) flood += H2::Frame(NGHTTP2_DATA, 0, 1, "");
  ExpectCutOff(flood, NGHTTP2_ENHANCE_YOUR_CALM, "empty_frames");
}

TEST_F(H2AbuseTest, HpackBombIsCutOff) {
  StartProxy();
  StartWellBehaved();
  // One 4 KiB field put into the dynamic table (literal with incremental indexing), then
  // referenced by one byte each (index 62, the newest dynamic entry): 4 KiB per byte.
  std::string block = H2::RequestBlock("GET", "/x") + H2::HpackInt(0x40, 6, 0) +
                      H2::HpackInt(0, 7, 6) + "x-bomb" + H2::HpackInt(0, 7, 4000) +
                      std::string(4000, 'b');
  block += std::string(2000, static_cast<char>(0x80 | 62));
  ExpectCutOff(
      H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block),
      NGHTTP2_ENHANCE_YOUR_CALM, "hpack");
}

TEST_F(H2AbuseTest, HpackTableSizeBeyondTheSettingIsCutOff) {
  StartProxy();
  StartWellBehaved();
  // A dynamic table size update to 1 MiB where the proxy allows 4 KiB (RFC 7541 4.2).
  std::string block = H2::HpackInt(0x20, 5, 1 << 20) + H2::RequestBlock("GET", "/x");
  ExpectCutOff(
      H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block),
      NGHTTP2_COMPRESSION_ERROR, "hpack_invalid");
}

TEST_F(H2AbuseTest, ZeroWindowHeldForeverIsCutOffWithBoundedMemory) {
  ServerOptions options;
  options.limits.h2.stalled_window_timeout = 500ms;
  options.upstream.buffer_limit = 256 * 1024;
  StartProxy(options);
  StartWellBehaved();
  // Window 0 for every stream, then 40 requests of 4 MiB: 160 MiB if the proxy buffered
  // what the upstreams send; the connection's buffer cap holds it near 256 KiB.
  std::string requests;
  for (uint32_t id = 1; id < 2 * 40; id += 2) {
    requests += H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                          H2::RequestBlock("GET", "/bytes/4194304"));
  }
  ExpectCutOff(requests, NGHTTP2_ENHANCE_YOUR_CALM, "zero_window",
               {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
}

TEST_F(H2AbuseTest, PeerThatNeverReadsItsAcksIsCutOff) {
  ServerOptions options;
  // The PING guard out of the way: what is left is nghttp2's own outbound queue limit (1,000
  // queued ACKs), which a peer that sends PINGs and never reads the answers runs into.
  options.limits.h2.control_frame_burst = 1'000'000;
  options.limits.h2.control_frames_per_second = 1'000'000;
  StartProxy(options);
  StartWellBehaved();
  H2 attacker(https_port_);
  ASSERT_TRUE(attacker.ok());
  std::string pings;
  for (int i = 0; i < 5000; ++i) pings += H2::Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  // Written without reading a byte, until the proxy hangs up or 100,000 PINGs are out.
  for (int round = 0; round < 20 && attacker.Send(pings); ++round) {
    if (AbuseCount("outbound_flood") > 0) break;
  }
  std::optional<uint32_t> goaway = attacker.WaitGoaway();
  ASSERT_TRUE(goaway.has_value()) << "no GOAWAY before the connection ended";
  EXPECT_EQ(*goaway, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM))
      << nghttp2_http2_strerror(*goaway);
  EXPECT_EQ(AbuseCount("outbound_flood"), 1u);
  EXPECT_EQ(AbuseCount("ping_flood"), 0u);
  ExpectRssGrowthBelow(kRssBound);
}

// A client that leaves in the middle of a request's header block made no request: nothing
// is logged for it (the stream's exchange only collected the head), and the next request is
// logged as usual.
TEST_F(H2AbuseTest, UnfinishedHeaderBlockIsNotLogged) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("xgate-h2-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::path log = dir / "access.log";
  ASSERT_TRUE(AccessLog::Open(log.string()).ok());
  auto lines = [&] {
    std::ifstream in(log);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    return all;
  };
  StartProxy();
  {
    H2 client(https_port_);
    ASSERT_TRUE(client.ok());
    // HEADERS without END_HEADERS: the block goes on in CONTINUATION frames that never come.
    ASSERT_TRUE(client.Send(H2::Frame(NGHTTP2_HEADERS, 0, 1, H2::RequestBlock("GET", "/left"))));
    ASSERT_TRUE(WaitFor([&] { return Stats().h2_streams_open() == 1; }));
  }
  ASSERT_TRUE(WaitFor([&] { return Stats().h2_streams_open() == 0; }));
  {
    H2 client(https_port_);
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(
        client.Send(H2::Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
                              1, H2::RequestBlock("GET", "/complete"))));
    bool ended = false;
    while (!ended) {
      std::optional<H2Frame> frame = client.Read();
      ASSERT_TRUE(frame.has_value()) << "no answer to the complete request";
      ended = frame->stream == 1 && (frame->flags & NGHTTP2_FLAG_END_STREAM);
    }
  }
  ASSERT_TRUE(WaitFor([&] { return !lines().empty(); }));
  std::vector<std::string> logged = lines();
  ASSERT_EQ(logged.size(), 1u) << logged.back();
  EXPECT_NE(logged[0].find("\"path\":\"/complete\""), std::string::npos) << logged[0];
  AccessLog::Disable();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xgate::proxy::testing
