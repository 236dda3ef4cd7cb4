#include "userspace-proxy/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/http/driver.h"

namespace xgate::http {
namespace {

using testing::DriveRequests;
using testing::SplitAt;
using testing::Transcript;

TEST(RequestParser, SimpleGetWithViewsIntoTheBuffer) {
  std::string buf =
      "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent:  curl/8 \r\n"
      "Accept: */*\r\n\r\n";
  RequestParser p;
  Step s = p.Parse(buf);
  ASSERT_EQ(s.kind, StepKind::kHeadComplete);
  EXPECT_EQ(s.consumed, buf.size());
  const RequestHeadView& h = p.head();
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/a/b?x=1&y=2");
  EXPECT_EQ(h.path, "/a/b");
  EXPECT_EQ(h.query, "x=1&y=2");
  EXPECT_EQ(h.host, "Example.com:8080");
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.headers.size(), 3u);
  EXPECT_EQ(h.headers[1].name, "User-Agent");
  EXPECT_EQ(h.headers[1].value, "curl/8");  // OWS trimmed
  EXPECT_EQ(*h.Get("accept"), "*/*");
  EXPECT_EQ(h.framing, BodyFraming::kNone);
  EXPECT_TRUE(h.keep_alive);
  // Zero copy: the views point into the caller's buffer.
  EXPECT_GE(h.method.data(), buf.data());
  EXPECT_LT(h.headers[2].value.data(), buf.data() + buf.size());
  Step done = p.Parse(std::string_view(buf).substr(s.consumed));
  EXPECT_EQ(done.kind, StepKind::kMessageComplete);
  EXPECT_EQ(done.consumed, 0u);

  RequestHead owned = ToRequestHead(h);
  EXPECT_EQ(owned.path, "/a/b?x=1&y=2");
  EXPECT_EQ(owned.host, "Example.com:8080");
  EXPECT_FALSE(owned.headers.Has("host"));
  EXPECT_EQ(owned.headers.size(), 2u);
}

TEST(RequestParser, IncompleteHeadAsksForMoreWithoutConsuming) {
  RequestParser p;
  std::string buf = "GET / HTTP/1.1\r\nHo";
  Step s = p.Parse(buf);
  EXPECT_EQ(s.kind, StepKind::kNeedMore);
  EXPECT_EQ(s.consumed, 0u);
  buf += "st: a\r\n\r\n";
  // The buffer may move between calls: the parser keeps offsets, not pointers.
  std::string moved = buf;
  s = p.Parse(moved);
  ASSERT_EQ(s.kind, StepKind::kHeadComplete);
  EXPECT_EQ(p.head().host, "a");
  EXPECT_EQ(p.head().headers[0].name.data(), moved.data() + 16);
}

TEST(RequestParser, FieldsFoundBeforeTheBufferMovedFollowIt) {
  RequestParser p;
  std::string buf = "GET / HTTP/1.1\r\nHost: a\r\nX-One: first\r\nX-T";
  Step s = p.Parse(buf);
  ASSERT_EQ(s.kind, StepKind::kNeedMore);
  buf += "wo: second\r\n\r\n";
  std::string moved = buf;
  buf.assign(buf.size(), '#');  // the old bytes are gone: a view left behind shows it
  s = p.Parse(moved);
  ASSERT_EQ(s.kind, StepKind::kHeadComplete);
  ASSERT_EQ(p.head().headers.size(), 3u);
  EXPECT_EQ(p.head().host, "a");
  EXPECT_EQ(p.head().headers[1].name, "X-One");
  EXPECT_EQ(p.head().headers[1].value, "first");
  EXPECT_EQ(p.head().headers[1].name.data(), moved.data() + 25);
  EXPECT_EQ(p.head().headers[2].name, "X-Two");
  EXPECT_EQ(p.head().headers[2].value, "second");
}

TEST(RequestParser, TargetForms) {
  Transcript abs =
      DriveRequests("GET http://Up.example:81/p/q?z HTTP/1.1\r\nHost: ignored\r\n\r\n");
  ASSERT_EQ(abs.requests.size(), 1u);
  EXPECT_EQ(abs.requests[0].host, "Up.example:81");
  EXPECT_EQ(abs.requests[0].path, "/p/q?z");

  Transcript abs_root = DriveRequests("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(abs_root.requests.size(), 1u);
  EXPECT_EQ(abs_root.requests[0].path, "/");

  Transcript star = DriveRequests("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(star.requests.size(), 1u);
  EXPECT_EQ(star.requests[0].path, "*");

  Transcript empty_query = DriveRequests("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(empty_query.requests[0].path, "/p?");
}

TEST(RequestParser, LeadingEmptyLinesAreIgnored) {
  Transcript t = DriveRequests("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.completed, 1);
  Transcript split = DriveRequests(SplitAt("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", {1, 3}));
  EXPECT_EQ(split, t);
}

TEST(RequestParser, KeepAliveSemantics) {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nConnection: close\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    Transcript t = DriveRequests(c.head);
    ASSERT_EQ(t.error, ParseError::kNone) << c.head;
    ASSERT_EQ(t.keep_alive.size(), 1u);
    EXPECT_EQ(t.keep_alive[0], c.keep_alive) << c.head;
  }
}

TEST(RequestParser, ExpectContinueAndUpgrade) {
  RequestParser p;
  std::string buf =
      "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n"
      "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  ASSERT_EQ(p.Parse(buf).kind, StepKind::kHeadComplete);
  EXPECT_TRUE(p.head().expect_continue);
  EXPECT_TRUE(p.head().upgrade);
  EXPECT_EQ(p.head().framing, BodyFraming::kContentLength);
  EXPECT_EQ(p.head().content_length, 3u);
  EXPECT_TRUE(p.in_body());
}

TEST(RequestParser, ContentLengthBodyAtEveryBoundary) {
  const std::string input =
      "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  Transcript whole = DriveRequests(input);
  ASSERT_EQ(whole.error, ParseError::kNone);
  ASSERT_EQ(whole.completed, 2);
  EXPECT_EQ(whole.bodies[0], "hello world");
  EXPECT_EQ(whole.bodies[1], "");
  EXPECT_EQ(whole.framings[0], BodyFraming::kContentLength);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    EXPECT_EQ(DriveRequests(SplitAt(input, {cut})), whole) << "cut at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  EXPECT_EQ(DriveRequests(SplitAt(input, every)), whole);
}

TEST(RequestParser, IdenticalRepeatedContentLengthIsAccepted) {
  Transcript list = DriveRequests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nok");
  EXPECT_EQ(list.error, ParseError::kNone);
  EXPECT_EQ(list.bodies[0], "ok");
  Transcript lines = DriveRequests(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(lines.error, ParseError::kNone);
  EXPECT_EQ(lines.bodies[0], "ok");
}

const char kChunked[] =
    "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n"
    "6;name=value;flag\r\n world\r\n"
    "A ; ext=\"quoted\"\r\n0123456789\r\n"
    "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";

TEST(RequestParser, ChunkedBodyWithExtensionsAndTrailers) {
  Transcript t = DriveRequests(kChunked);
  ASSERT_EQ(t.error, ParseError::kNone);
  ASSERT_EQ(t.completed, 2);
  EXPECT_EQ(t.framings[0], BodyFraming::kChunked);
  EXPECT_EQ(t.bodies[0], "hello world0123456789");
  ASSERT_EQ(t.trailers[0].size(), 2u);
  EXPECT_EQ(t.trailers[0][0].name, "X-Checksum");
  EXPECT_EQ(t.trailers[0][0].value, "abc");
  EXPECT_EQ(t.requests[1].path, "/after");
  EXPECT_EQ(t.left_over, 0u);
}

TEST(RequestParser, ChunkedSplitAtEveryByteBoundary) {
  std::string input = kChunked;
  Transcript whole = DriveRequests(input);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(DriveRequests(SplitAt(input, {cut})), whole) << "cut at " << cut;
  }
  for (size_t a = 1; a < input.size(); a += 7) {
    for (size_t b = a + 1; b < input.size(); b += 5) {
      ASSERT_EQ(DriveRequests(SplitAt(input, {a, b})), whole) << a << "," << b;
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  EXPECT_EQ(DriveRequests(SplitAt(input, every)), whole);
}

TEST(RequestParser, ChunkedBodyIsStreamedNotBuffered) {
  RequestParser p;
  std::string buf = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n400\r\nabc";
  Step s = p.Parse(buf);
  ASSERT_EQ(s.kind, StepKind::kHeadComplete);
  buf.erase(0, s.consumed);
  // Only 3 of the 1024 bytes of the chunk are here: they are delivered at once.
  s = p.Parse(buf);
  ASSERT_EQ(s.kind, StepKind::kBodyData);
  EXPECT_EQ(s.body, "abc");
  EXPECT_EQ(s.body.data(), buf.data() + 5);
  buf.erase(0, s.consumed);
  EXPECT_TRUE(buf.empty());
  s = p.Parse(buf);
  EXPECT_EQ(s.kind, StepKind::kNeedMore);
}

TEST(RequestParser, PipelinedRequestsOneAtATime) {
  std::string buf =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  RequestParser p;
  std::vector<std::string> paths;
  std::string_view rest = buf;
  for (int i = 0; i < 3; ++i) {
    Step s = p.Parse(rest);
    ASSERT_EQ(s.kind, StepKind::kHeadComplete);
    paths.emplace_back(p.head().path);
    rest.remove_prefix(s.consumed);
    // The parser stops after one head: the next request's bytes are untouched.
    s = p.Parse(rest);
    ASSERT_EQ(s.kind, StepKind::kMessageComplete);
    rest.remove_prefix(s.consumed);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/1", "/2", "/3"}));
  EXPECT_FALSE(p.head().keep_alive);
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(p.Parse(rest).kind, StepKind::kNeedMore);
}

TEST(RequestParser, EofMidMessageIsAnError) {
  EXPECT_EQ(
      DriveRequests({"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab"}, Limits(), true)
          .error,
      ParseError::kUnexpectedEof);
  EXPECT_EQ(DriveRequests({"GET / HTTP/1.1\r\nHo"}, Limits(), true).error,
            ParseError::kUnexpectedEof);
  Transcript idle = DriveRequests({"GET / HTTP/1.1\r\nHost: h\r\n\r\n"}, Limits(), true);
  EXPECT_EQ(idle.error, ParseError::kNone);
  EXPECT_EQ(idle.completed, 1);
}

TEST(RequestParser, ErrorIsSticky) {
  RequestParser p;
  ASSERT_EQ(p.Parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").kind, StepKind::kError);
  EXPECT_EQ(p.Parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").kind, StepKind::kError);
  EXPECT_EQ(p.error(), ParseError::kWhitespaceBeforeColon);
  p.Reset();
  EXPECT_EQ(p.Parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").kind, StepKind::kHeadComplete);
}

// Every refusal reason, with a raw request that triggers it and the status it answers.
struct Refusal {
  const char* name;
  std::string raw;
  ParseError error;
  int status;
};

std::string ManyHeaders(int n) {
  std::string s = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < n; ++i) s.append("X-H").append(std::to_string(i)).append(": v\r\n");
  return s + "\r\n";
}

std::vector<Refusal> Refusals() {
  const std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n";
  const std::string post = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string many_trailers = post + "0\r\n";
  // Appended piecewise: `"T" + std::to_string(i)` trips GCC 12's -Wrestrict false positive.
  for (int i = 0; i < 40; ++i)
    many_trailers.append("T").append(std::to_string(i)).append(": v\r\n");
  many_trailers += "\r\n";
  return {
      {"method_not_token", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadMethod, 400},
      {"method_empty", " / HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadMethod, 400},
      {"target_fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget, 400},
      {"target_relative", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget, 400},
      {"target_double_space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget, 400},
      {"target_asterisk_get", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget, 400},
      {"target_non_ascii", "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget,
       400},
      {"target_userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBadTarget,
       400},
      {"version_syntax", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", ParseError::kBadVersion, 400},
      {"version_lowercase", "GET / http/1.1\r\nHost: h\r\n\r\n", ParseError::kBadVersion, 400},
      {"version_missing", "GET /\r\nHost: h\r\n\r\n", ParseError::kBadVersion, 400},
      {"version_2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", ParseError::kUnsupportedVersion, 505},
      {"request_line_complete_too_long",
       "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
       ParseError::kRequestLineTooLong, 414},
      {"request_line_partial_too_long", "GET /" + std::string(9000, 'a'),
       ParseError::kRequestLineTooLong, 414},
      {"head_too_large", ok + "X-Big: " + std::string(70000, 'b') + "\r\n\r\n",
       ParseError::kHeadTooLarge, 431},
      {"head_partial_too_large", ok + "X-Big: " + std::string(70000, 'b'),
       ParseError::kHeadTooLarge, 431},
      {"too_many_headers", ManyHeaders(100), ParseError::kTooManyHeaders, 431},
      {"header_name_not_token", ok + "Fo(o: x\r\n\r\n", ParseError::kBadHeaderName, 400},
      {"header_name_empty", ok + ": x\r\n\r\n", ParseError::kBadHeaderName, 400},
      {"header_no_colon", ok + "NoColon\r\n\r\n", ParseError::kBadHeaderName, 400},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
       ParseError::kWhitespaceBeforeColon, 400},
      {"tab_before_colon", ok + "X-A\t: x\r\n\r\n", ParseError::kWhitespaceBeforeColon, 400},
      {"obs_fold", ok + "X-A: one\r\n two\r\n\r\n", ParseError::kObsFold, 400},
      {"whitespace_after_start_line", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", ParseError::kObsFold,
       400},
      {"bare_cr_in_value", ok + "X-A: a\rb\r\n\r\n", ParseError::kBareCR, 400},
      {"bare_cr_in_request_line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", ParseError::kBareCR, 400},
      {"bare_lf_request_line", "GET / HTTP/1.1\nHost: h\r\n\r\n", ParseError::kBareLF, 400},
      {"bare_lf_header", ok + "X-A: a\n\r\n", ParseError::kBareLF, 400},
      {"bare_lf_end_of_head", ok + "\n", ParseError::kBareLF, 400},
      {"nul_in_value", ok + std::string("X-A: a\0b\r\n\r\n", 11), ParseError::kNulByte, 400},
      {"nul_in_name", ok + std::string("X\0A: b\r\n\r\n", 10), ParseError::kNulByte, 400},
      {"control_in_value",
       ok + "X-A: a\x01"
            "b\r\n\r\n",
       ParseError::kBadHeaderValue, 400},
      {"del_in_value",
       ok + "X-A: a\x7f"
            "b\r\n\r\n",
       ParseError::kBadHeaderValue, 400},
      {"missing_host", "GET / HTTP/1.1\r\n\r\n", ParseError::kMissingHost, 400},
      {"duplicate_host", ok + "Host: h\r\n\r\n", ParseError::kDuplicateHost, 400},
      {"bad_host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::kBadHost, 400},
      {"content_length_letters", ok + "Content-Length: 1x\r\n\r\n", ParseError::kBadContentLength,
       400},
      {"content_length_negative", ok + "Content-Length: -1\r\n\r\n", ParseError::kBadContentLength,
       400},
      {"content_length_plus", ok + "Content-Length: +1\r\n\r\n", ParseError::kBadContentLength,
       400},
      {"content_length_overflow", ok + "Content-Length: 99999999999999999999999\r\n\r\n",
       ParseError::kBadContentLength, 400},
      {"content_length_empty", ok + "Content-Length: \r\n\r\n", ParseError::kBadContentLength, 400},
      {"content_length_differing_lines", ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
       ParseError::kConflictingContentLength, 400},
      {"content_length_differing_list", ok + "Content-Length: 5, 6\r\n\r\n",
       ParseError::kConflictingContentLength, 400},
      {"content_length_and_chunked", ok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseError::kContentLengthWithTransferEncoding, 400},
      {"chunked_not_final", ok + "Transfer-Encoding: chunked, gzip\r\n\r\n",
       ParseError::kTransferEncodingNotChunked, 400},
      {"chunked_twice", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseError::kTransferEncodingNotChunked, 400},
      {"coding_without_chunked", ok + "Transfer-Encoding: gzip\r\n\r\n",
       ParseError::kTransferEncodingNotChunked, 400},
      {"unknown_coding_before_chunked", ok + "Transfer-Encoding: gzip, chunked\r\n\r\n",
       ParseError::kUnsupportedTransferEncoding, 501},
      {"transfer_encoding_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseError::kTransferEncodingInHttp10, 400},
      {"chunk_size_not_hex", post + "zz\r\n", ParseError::kBadChunkSize, 400},
      {"chunk_size_empty", post + "\r\n", ParseError::kBadChunkSize, 400},
      {"chunk_size_space_then_junk", post + "5 x\r\n", ParseError::kBadChunkSize, 400},
      {"chunk_size_negative", post + "-5\r\n", ParseError::kBadChunkSize, 400},
      {"chunk_size_overflow", post + "10000000000000000\r\n", ParseError::kChunkSizeOverflow, 400},
      {"chunk_size_bare_lf", post + "5\nhello", ParseError::kBareLF, 400},
      {"chunk_size_bare_cr", post + "5\rhello", ParseError::kBareCR, 400},
      {"chunk_extension_control",
       post + "5;a\x01"
              "b\r\nhello\r\n",
       ParseError::kBadChunkExtension, 400},
      {"chunk_extension_too_long", post + "5;" + std::string(5000, 'e') + "\r\n",
       ParseError::kBadChunkExtension, 400},
      {"chunk_data_not_terminated", post + "5\r\nhelloX\r\n", ParseError::kBadChunkTerminator, 400},
      {"chunk_data_bare_cr", post + "5\r\nhello\rX", ParseError::kBadChunkTerminator, 400},
      {"trailers_too_many", many_trailers, ParseError::kTrailersTooLarge, 431},
      {"trailers_too_large", post + "0\r\nT: " + std::string(20000, 't') + "\r\n\r\n",
       ParseError::kTrailersTooLarge, 431},
      {"trailer_content_length", post + "0\r\nContent-Length: 5\r\n\r\n", ParseError::kBadTrailer,
       400},
      {"trailer_obs_fold", post + "0\r\nT: a\r\n b\r\n\r\n", ParseError::kObsFold, 400},
      {"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", ParseError::kUnsupportedMethod,
       501},
  };
}

TEST(RequestParser, EveryRefusalReasonWithItsStatus) {
  for (const Refusal& r : Refusals()) {
    Transcript t = DriveRequests(r.raw);
    EXPECT_EQ(t.error, r.error) << r.name << ": got " << ParseErrorName(t.error);
    EXPECT_EQ(ParseErrorStatus(r.error), r.status) << r.name;
    // The same refusal whatever way the bytes arrive.
    std::vector<size_t> every;
    for (size_t i = 1; i < r.raw.size() && r.raw.size() < 200; ++i) every.push_back(i);
    EXPECT_EQ(DriveRequests(SplitAt(r.raw, every)).error, r.error) << r.name << " byte by byte";
  }
}

TEST(RequestParser, EveryReasonHasAName) {
  for (int e = 1; e <= static_cast<int>(ParseError::kUnexpectedEof); ++e) {
    ParseError error = static_cast<ParseError>(e);
    EXPECT_NE(ParseErrorName(error), "unknown");
    int status = ParseErrorStatus(error);
    EXPECT_TRUE(status == 400 || status == 414 || status == 431 || status == 501 || status == 505)
        << ParseErrorName(error);
  }
  EXPECT_EQ(ParseErrorName(ParseError::kObsFold), "obs_fold");
}

TEST(RequestParser, LimitsAreConfigurable) {
  Limits small;
  small.max_headers = 2;
  EXPECT_EQ(DriveRequests(ManyHeaders(1), small).error, ParseError::kNone);
  EXPECT_EQ(DriveRequests(ManyHeaders(2), small).error, ParseError::kTooManyHeaders);
  Limits short_line;
  short_line.max_request_line = 20;
  EXPECT_EQ(DriveRequests("GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n", short_line).error,
            ParseError::kRequestLineTooLong);
  EXPECT_EQ(DriveRequests("GET /01 HTTP/1.1\r\nHost: h\r\n\r\n", short_line).error,
            ParseError::kNone);
}

TEST(RequestParser, ObsTextAndTabsInValuesAreAllowed) {
  Transcript t = DriveRequests("GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xc3\xa9\there\r\n\r\n");
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(*t.requests[0].headers.Get("x-a"), "caf\xc3\xa9\there");
}

// Long names and values go through the parser's block-at-a-time scan when a line arrives
// whole and byte by byte when it arrives in pieces: both give the same fields and errors.
TEST(RequestParser, LongFieldsTheSameWholeOrByteByByte) {
  std::string ok =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Very-Long_Header.Name-0123456789: "
      "a value longer than sixteen bytes\twith a tab and caf\xc3\xa9 \t \r\n"
      "X-Another-Long-Header-Name-Here:\t\tvalue-with-exactly-thirty-two-b\r\n\r\n";
  std::string ctl = "GET / HTTP/1.1\r\nHost: h\r\nX-Long-Value: 0123456789abcdef012\x01x\r\n\r\n";
  std::string del = "GET / HTTP/1.1\r\nHost: h\r\nX-Long-Value: 0123456789abcdef0123\x7f\r\n\r\n";
  std::string name = "GET / HTTP/1.1\r\nHost: h\r\nX-Long-Name-0123456789{x: v\r\n\r\n";
  std::string cr = "GET / HTTP/1.1\r\nHost: h\r\nX-Long-Value: 0123456789abcdef0123\rx\r\n\r\n";
  Transcript whole = DriveRequests(ok);
  ASSERT_EQ(whole.error, ParseError::kNone);
  ASSERT_EQ(whole.requests.size(), 1u);
  EXPECT_EQ(*whole.requests[0].headers.Get("x-very-long_header.name-0123456789"),
            "a value longer than sixteen bytes\twith a tab and caf\xc3\xa9");
  EXPECT_EQ(*whole.requests[0].headers.Get("x-another-long-header-name-here"),
            "value-with-exactly-thirty-two-b");
  EXPECT_EQ(whole, DriveRequests(SplitAt(ok, {40, 41, 100, 101, 130})));
  for (const std::string& raw : {ok, ctl, del, name, cr}) {
    std::vector<size_t> every;
    for (size_t i = 1; i < raw.size(); ++i) every.push_back(i);
    Transcript a = DriveRequests(raw), b = DriveRequests(SplitAt(raw, every));
    EXPECT_EQ(a.error, b.error) << raw;
    EXPECT_EQ(a.completed, b.completed) << raw;
  }
  EXPECT_EQ(DriveRequests(ctl).error, ParseError::kBadHeaderValue);
  EXPECT_EQ(DriveRequests(del).error, ParseError::kBadHeaderValue);
  EXPECT_EQ(DriveRequests(name).error, ParseError::kBadHeaderName);
  EXPECT_EQ(DriveRequests(cr).error, ParseError::kBareCR);
}

TEST(RequestParser, Http10WithoutHostIsAccepted) {
  Transcript t = DriveRequests("GET /x HTTP/1.0\r\n\r\n");
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.requests[0].version_minor, 0);
  EXPECT_EQ(t.requests[0].host, "");
}

}  // namespace
}  // namespace xgate::http
