#include "userspace-proxy/http/serializer.h"

#include <gtest/gtest.h>

#include "tests/http/driver.h"
#include "userspace-proxy/http/request_parser.h"

namespace xgate::http {
namespace {

TEST(Serializer, RequestHeadRoundTrips) {
  RequestHead head;
  head.method = "POST";
  head.path = "/a?b=c";
  head.host = "up.example:8080";
  head.headers.Add("X-A", "1");
  head.headers.Add("Transfer-Encoding", "chunked");
  std::string out;
  AppendRequestHead(head, &out);
  EXPECT_EQ(out,
            "POST /a?b=c HTTP/1.1\r\nHost: up.example:8080\r\nX-A: 1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");
  AppendChunk("hello", &out);
  AppendChunk("", &out);  // writes nothing: an empty chunk would end the body
  AppendChunk(std::string(300, 'z'), &out);
  AppendLastChunk(std::vector<Header>{{"X-T", "v"}}, &out);

  testing::Transcript t = testing::DriveRequests(out);
  ASSERT_EQ(t.error, ParseError::kNone);
  ASSERT_EQ(t.completed, 1);
  EXPECT_EQ(t.requests[0].path, "/a?b=c");
  EXPECT_EQ(t.requests[0].host, "up.example:8080");
  EXPECT_EQ(t.bodies[0], "hello" + std::string(300, 'z'));
  ASSERT_EQ(t.trailers[0].size(), 1u);
  EXPECT_EQ(t.trailers[0][0].value, "v");
  EXPECT_NE(out.find("\r\n12c\r\n"), std::string::npos);  // 300 in hex
}

TEST(Serializer, StripHopByHop) {
  HeaderMap h;
  h.Add("Connection", "close, X-Private");
  h.Add("Keep-Alive", "timeout=5");
  h.Add("X-Private", "secret");
  h.Add("TE", "trailers");
  h.Add("Upgrade", "websocket");
  h.Add("Transfer-Encoding", "chunked");
  h.Add("Proxy-Connection", "keep-alive");
  h.Add("Trailer", "X-T");
  h.Add("X-Keep", "yes");
  StripHopByHop(h);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.fields()[0].name, "X-Keep");
  EXPECT_TRUE(IsHopByHop("KEEP-ALIVE"));
  EXPECT_FALSE(IsHopByHop("Content-Length"));
}

TEST(Serializer, ResponseHeadAndSimpleResponse) {
  ResponseHead r;
  r.status = 404;
  r.headers.Add("Content-Length", "0");
  std::string out;
  AppendResponseHead(r, &out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");

  std::vector<Header> loc = {{"Location", "https://example.org/"}};
  std::string simple = MakeSimpleResponse(302, loc, "", true);
  EXPECT_EQ(simple,
            "HTTP/1.1 302 Found\r\nLocation: https://example.org/\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
  testing::Transcript t = testing::DriveResponses({simple}, {"GET"});
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.responses[0].status, 302);
  EXPECT_FALSE(t.keep_alive[0]);
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
}

TEST(HeaderMap, CaseInsensitiveEdits) {
  HeaderMap h;
  h.Add("X-A", "1");
  h.Add("x-b", "2");
  h.Add("X-a", "3");
  EXPECT_EQ(*h.Get("x-A"), "1");
  EXPECT_EQ(*h.GetJoined("X-A"), "1, 3");
  h.Set("x-a", "9");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.fields()[0].name, "X-A");
  EXPECT_EQ(h.fields()[0].value, "9");
  EXPECT_EQ(h.Remove("X-B"), 1u);
  EXPECT_FALSE(h.Has("x-b"));
  h.Set("New", "v");
  EXPECT_EQ(h.fields().back().name, "New");
}

TEST(RequestHead, PathQueryAndHost) {
  RequestHead r;
  r.path = "/p/q?x=1";
  r.host = "[::1]:8080";
  EXPECT_EQ(r.PathOnly(), "/p/q");
  EXPECT_EQ(r.Query(), "x=1");
  EXPECT_EQ(r.HostWithoutPort(), "[::1]");
  r.host = "example.com:80";
  EXPECT_EQ(r.HostWithoutPort(), "example.com");
  r.host = "example.com";
  EXPECT_EQ(r.HostWithoutPort(), "example.com");
}

}  // namespace
}  // namespace xgate::http
