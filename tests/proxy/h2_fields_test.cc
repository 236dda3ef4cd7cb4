// The header blocks the proxy hands to nghttp2: names lower-cased in its own copies (eight
// bytes at a time), connection-specific fields left out, nothing for nghttp2 to copy, and a
// field past the block's bound left for nghttp2 to copy; and a block submitted and decoded by
// a real nghttp2 peer.
#include "userspace-proxy/server/h2_fields.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <string>
#include <utility>
#include <vector>

namespace xgate::proxy {
namespace {

std::string Name(const nghttp2_nv& nv) {
  return std::string(reinterpret_cast<const char*>(nv.name), nv.namelen);
}
std::string Value(const nghttp2_nv& nv) {
  return std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen);
}

TEST(H2FieldsTest, ConnectionSpecificNames) {
  for (const char* name :
       {"connection", "Keep-Alive", "PROXY-CONNECTION", "Transfer-Encoding", "upgrade", "TE"}) {
    EXPECT_TRUE(H2ConnectionSpecific(name)) << name;
  }
  for (const char* name : {"", "t", "tea", "trailer", "content-type", "connections", "keep-alivf",
                           "x-upgrade", "transfer-encodings"}) {
    EXPECT_FALSE(H2ConnectionSpecific(name)) << name;
  }
}

TEST(H2FieldsTest, NamesLowerCasedAndCopied) {
  // Every length from 1 to 20 (the eight-byte steps and the tails), every byte of the
  // ASCII range around the capitals, and bytes >= 0x80 left alone.
  std::string all;
  for (int c = 0x20; c < 0x7f; ++c) all += static_cast<char>(c);
  all += "\x80\xc1\xda\xff";
  std::vector<std::string> names;
  for (size_t n = 1; n <= 20; ++n) names.push_back(all.substr(n * 3 % (all.size() - n), n));
  names.push_back(all);
  names.push_back("X-Request-ID");
  size_t bytes = 0;
  for (const auto& name : names) bytes += name.size() + 5;
  H2HeaderBlock block;
  block.Start(bytes);
  for (const auto& name : names) block.Add(name, "Value");
  ASSERT_EQ(block.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    std::string expected = names[i];
    for (char& c : expected) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    const nghttp2_nv& nv = block.data()[i];
    EXPECT_EQ(Name(nv), expected) << i;
    EXPECT_EQ(Value(nv), "Value") << i;  // values keep their case
    EXPECT_EQ(nv.flags, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE);
    EXPECT_NE(static_cast<const void*>(nv.name), static_cast<const void*>(names[i].data()));
  }
}

TEST(H2FieldsTest, ConnectionSpecificLeftOutAndStaticNames) {
  H2HeaderBlock block;
  block.Start(64);
  block.AddStatic(":status", "204");
  block.Add("Connection", "close");
  block.Add("Server", "s");
  block.Add("te", "trailers");
  ASSERT_EQ(block.size(), 2u);
  EXPECT_EQ(Name(block.data()[0]), ":status");
  EXPECT_EQ(Value(block.data()[0]), "204");
  EXPECT_EQ(Name(block.data()[1]), "server");
}

TEST(H2FieldsTest, PastTheBoundNghttp2Copies) {
  H2HeaderBlock block;
  block.Start(8);
  block.Add("Date", "1234");     // 8 bytes: fits exactly
  block.Add("Server", "xgate");  // over the bound: nghttp2 copies (and lower-cases) it
  block.AddStatic(":status", "200");
  ASSERT_EQ(block.size(), 3u);
  EXPECT_EQ(block.data()[0].flags, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE);
  EXPECT_EQ(block.data()[1].flags, NGHTTP2_NV_FLAG_NONE);
  EXPECT_EQ(Name(block.data()[1]), "Server");
  EXPECT_EQ(block.data()[2].flags, NGHTTP2_NV_FLAG_NO_COPY_NAME);
  // A larger block next time: the copies move to a new buffer.
  block.Start(64);
  block.Add("Server", "xgate");
  EXPECT_EQ(block.data()[0].flags, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE);
  EXPECT_EQ(Name(block.data()[0]), "server");
}

// A block submitted without copies reaches a real nghttp2 client as it was built.
TEST(H2FieldsTest, SubmittedBlockDecodedByPeer) {
  nghttp2_session_callbacks* callbacks;
  ASSERT_EQ(nghttp2_session_callbacks_new(&callbacks), 0);
  nghttp2_session* server;
  ASSERT_EQ(nghttp2_session_server_new(&server, callbacks, nullptr), 0);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  Fields received;
  nghttp2_session_callbacks_set_on_header_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
        static_cast<Fields*>(user)->emplace_back(
            std::string(reinterpret_cast<const char*>(name), namelen),
            std::string(reinterpret_cast<const char*>(value), valuelen));
        return 0;
      });
  nghttp2_session* client;
  ASSERT_EQ(nghttp2_session_client_new(&client, callbacks, &received), 0);
  nghttp2_session_callbacks_del(callbacks);
  auto pump = [](nghttp2_session* from, nghttp2_session* to) {
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(from, &data);
      ASSERT_GE(n, 0);
      if (n == 0) return;
      ASSERT_EQ(nghttp2_session_mem_recv(to, data, static_cast<size_t>(n)), n);
    }
  };
  ASSERT_EQ(nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0), 0);
  ASSERT_EQ(nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0), 0);
  nghttp2_nv request[] = {H2Nv(":method", "GET"), H2Nv(":scheme", "https"),
                          H2Nv(":authority", "a.example"), H2Nv(":path", "/")};
  int32_t id = nghttp2_submit_request(client, nullptr, request, 4, nullptr, nullptr);
  ASSERT_GT(id, 0);
  pump(client, server);
  pump(server, client);
  H2HeaderBlock block;
  block.Start(64);
  block.AddStatic(":status", "200");
  block.Add("Content-Type", "text/plain");
  block.Add("Keep-Alive", "timeout=5");
  block.Add("X-Long-Header-Name", "Mixed Case Value");
  ASSERT_EQ(nghttp2_submit_response(server, id, block.data(), block.size(), nullptr), 0);
  pump(server, client);
  nghttp2_session_del(server);
  nghttp2_session_del(client);
  EXPECT_EQ(received, (Fields{{":status", "200"},
                              {"content-type", "text/plain"},
                              {"x-long-header-name", "Mixed Case Value"}}));
}

}  // namespace
}  // namespace xgate::proxy
