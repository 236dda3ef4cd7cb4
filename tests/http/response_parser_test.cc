#include "userspace-proxy/http/response_parser.h"

#include <gtest/gtest.h>

#include "tests/http/driver.h"

namespace xgate::http {
namespace {

using testing::DriveResponses;
using testing::SplitAt;
using testing::Transcript;

TEST(ResponseParser, ContentLengthResponse) {
  Transcript t =
      DriveResponses({"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"}, {"GET"});
  ASSERT_EQ(t.error, ParseError::kNone);
  ASSERT_EQ(t.responses.size(), 1u);
  EXPECT_EQ(t.responses[0].status, 200);
  EXPECT_EQ(t.responses[0].reason, "OK");
  EXPECT_EQ(t.bodies[0], "hello");
  EXPECT_EQ(t.completed, 1);
  EXPECT_TRUE(t.keep_alive[0]);
}

TEST(ResponseParser, HeadAnd204And304HaveNoBody) {
  // The Content-Length of a HEAD response describes the GET body that was not sent.
  Transcript head = DriveResponses(
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
       "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
      {"HEAD", "DELETE", "GET", "GET"});
  ASSERT_EQ(head.error, ParseError::kNone);
  ASSERT_EQ(head.completed, 4);
  EXPECT_EQ(head.framings[0], BodyFraming::kNone);
  EXPECT_EQ(head.framings[1], BodyFraming::kNone);
  EXPECT_EQ(head.framings[2], BodyFraming::kNone);
  EXPECT_EQ(head.bodies[3], "ok");
}

TEST(ResponseParser, InterimResponseThenFinal) {
  std::string input =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n";
  // To HEAD, neither the 100 nor the final 200 has a body, whatever its framing fields say.
  std::string head_input = input.substr(0, input.find("3\r\nabc"));
  Transcript head = DriveResponses({head_input}, {"HEAD"});
  ASSERT_EQ(head.error, ParseError::kNone);
  ASSERT_EQ(head.completed, 2);
  EXPECT_EQ(head.responses[0].status, 100);
  EXPECT_EQ(head.framings[1], BodyFraming::kNone);

  Transcript post = DriveResponses({input}, {"POST"});
  ASSERT_EQ(post.completed, 2);
  EXPECT_EQ(post.bodies[1], "abc");
  for (size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(DriveResponses(SplitAt(input, {cut}), {"POST"}), post) << cut;
  }
}

TEST(ResponseParser, UntilCloseBodyEndsAtEof) {
  Transcript t = DriveResponses({"HTTP/1.1 200 OK\r\n\r\nsome", " bytes"}, {"GET"}, true);
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.framings[0], BodyFraming::kUntilClose);
  EXPECT_FALSE(t.keep_alive[0]);
  EXPECT_EQ(t.bodies[0], "some bytes");
  EXPECT_EQ(t.completed, 1);

  // A final coding other than chunked also runs until close (RFC 9112 6.3).
  Transcript gz =
      DriveResponses({"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz"}, {"GET"}, true);
  EXPECT_EQ(gz.framings[0], BodyFraming::kUntilClose);
  EXPECT_EQ(gz.bodies[0], "zz");
}

TEST(ResponseParser, EofInsideLengthBodyIsAnError) {
  Transcript t =
      DriveResponses({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"}, {"GET"}, true);
  EXPECT_EQ(t.error, ParseError::kUnexpectedEof);
}

TEST(ResponseParser, KeepAlive) {
  Transcript t10 = DriveResponses({"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"}, {"GET"});
  EXPECT_FALSE(t10.keep_alive[0]);
  Transcript t10ka = DriveResponses(
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"}, {"GET"});
  EXPECT_TRUE(t10ka.keep_alive[0]);
  Transcript close = DriveResponses(
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"}, {"GET"});
  EXPECT_FALSE(close.keep_alive[0]);
}

TEST(ResponseParser, StatusLineWithoutReason) {
  Transcript t = DriveResponses({"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"}, {"GET"});
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.responses[0].status, 404);
  EXPECT_EQ(t.responses[0].reason, "");
}

TEST(ResponseParser, Refusals) {
  struct Case {
    const char* raw;
    ParseError error;
  };
  const Case cases[] = {
      {"HTTP/1.1 2000 OK\r\n\r\n", ParseError::kBadStatusLine},
      {"HTTP/1.1 20 OK\r\n\r\n", ParseError::kBadStatusLine},
      {"HTTP/1.1 abc OK\r\n\r\n", ParseError::kBadStatusLine},
      {"HTTQ/1.1 200 OK\r\n\r\n", ParseError::kBadStatusLine},
      {"HTTP/2.0 200 OK\r\n\r\n", ParseError::kUnsupportedVersion},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", ParseError::kBadStatusLine},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseError::kContentLengthWithTransferEncoding},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       ParseError::kConflictingContentLength},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       ParseError::kUnsupportedTransferEncoding},
      {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ParseError::kObsFold},
      {"HTTP/1.1 200 OK\nX: a\r\n\r\n", ParseError::kBareLF},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", ParseError::kBadChunkSize},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DriveResponses({c.raw}, {"GET"}).error, c.error) << c.raw;
  }
}

}  // namespace
}  // namespace xgate::http
