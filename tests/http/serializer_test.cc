#include "userspace-proxy/http/serializer.h"

#include <gtest/gtest.h>

#include "tests/http/driver.h"
#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/response_parser.h"

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

// Eight bytes at a time gives what a byte-wise ASCII comparison gives: every pair of byte
// values, at the first, a middle and the last place of strings of each length path.
TEST(HeaderMap, EqualsIgnoreCaseMatchesByteWise) {
  auto reference = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      auto fold = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
      if (fold(a[i]) != fold(b[i])) return false;
    }
    return true;
  };
  int mismatches = 0;
  for (size_t n : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17}) {
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      std::string a(n, 'k'), b(n, 'K');
      for (int c = 0; c < 256; ++c) {
        for (int d = 0; d < 256; ++d) {
          a[at] = static_cast<char>(c);
          b[at] = static_cast<char>(d);
          if (EqualsIgnoreCase(a, b) != reference(a, b)) ++mismatches;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-length"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Length", "content-lengtH "));
  EXPECT_FALSE(EqualsIgnoreCase("content-length", "content\rlength"));
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

// A parsed request head forwarded as the proxy does: fields no one touched keep their
// received bytes (spacing included), hop-by-hop fields and Content-Length go, the
// forwarding fields are set; a field a filter changed is written anew in its place.
RequestHead ParsedHead(const std::string& buf) {
  RequestParser p;
  Step s = p.Parse(buf);
  EXPECT_EQ(s.kind, StepKind::kHeadComplete);
  return ToRequestHead(p.head());
}

void Forward(RequestHead& head) {
  StripHopByHop(head.headers);
  head.headers.Remove("Content-Length");
  head.headers.Set("X-Forwarded-For", "198.18.0.1");
  head.headers.Set("X-Forwarded-Proto", "http");
}

constexpr char kReceived[] =
    "GET /p?q=1 HTTP/1.1\r\nUser-Agent: ua/1.0\r\nHost: h.example\r\nAccept:*/*\r\n"
    "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Custom:   spaced\tvalue  \r\n"
    "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
    "Cookie: a=b\r\nX-Empty:\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n";

TEST(Serializer, UnmodifiedFieldsPassThroughAsReceived) {
  std::string buf = kReceived;
  RequestHead head = ParsedHead(buf);
  buf.assign(buf.size(), '#');  // the head owns its bytes: the input may be reused at once
  Forward(head);
  std::string out;
  AppendRequestHead(head, &out);
  EXPECT_EQ(out,
            "GET /p?q=1 HTTP/1.1\r\nHost: h.example\r\nUser-Agent: ua/1.0\r\nAccept:*/*\r\n"
            "X-Custom:   spaced\tvalue\r\nCookie: a=b\r\nX-Empty: \r\n"
            "X-Forwarded-For: 198.18.0.1\r\nX-Forwarded-Proto: http\r\n\r\n");
}

TEST(Serializer, ModifiedFieldsAreRewrittenInPlace) {
  RequestHead head = ParsedHead(kReceived);
  head.headers.Set("accept", "text/html");  // keeps its received name and place
  head.headers.Remove("Cookie");
  head.headers.Add("X-Added", "yes");
  head.headers.Set("x-custom", "");
  Forward(head);
  RequestHead copy = head;  // a copy (mirrors) writes the same bytes
  std::string out, copied;
  AppendRequestHead(head, &out);
  AppendRequestHead(copy, &copied);
  EXPECT_EQ(out,
            "GET /p?q=1 HTTP/1.1\r\nHost: h.example\r\nUser-Agent: ua/1.0\r\n"
            "Accept: text/html\r\nX-Custom: \r\nX-Empty: \r\n"
            "X-Forwarded-For: 198.18.0.1\r\nX-Added: yes\r\nX-Forwarded-Proto: http\r\n\r\n");
  EXPECT_EQ(copied, out);
  testing::Transcript t = testing::DriveRequests(out);
  ASSERT_EQ(t.error, ParseError::kNone);
  EXPECT_EQ(t.requests[0].headers.Get("accept"), "text/html");
}

// A received line is written as received once, in received order: met again, or after a
// later one, it is written anew (so what is written stays within the bound reserved).
TEST(Serializer, ReceivedLineMetAgainIsWrittenAnew) {
  RequestHead head = ParsedHead("GET / HTTP/1.1\r\nHost: h\r\nA:   1\r\nB: 2\r\n\r\n");
  auto& fields = head.headers.mutable_fields();
  fields.push_back(fields[0]);
  fields.push_back(fields[1]);
  std::string out;
  AppendRequestHead(head, &out);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\nA:   1\r\nB: 2\r\nA: 1\r\nB: 2\r\n\r\n");
  std::swap(fields[0], fields[1]);
  fields.resize(2);
  out.clear();
  AppendRequestHead(head, &out);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\nB: 2\r\nA: 1\r\n\r\n");
}

TEST(HeaderMap, ViewsFromSeveralBuffersAreCopiedOneByOne) {
  std::string a = "Name-A", b = "value b";
  std::vector<HeaderView> views = {{a, b}, {"Z", "zz"}};
  HeaderMap map;
  map.CopyFrom(views, {});
  a.assign(a.size(), '#');
  b.assign(b.size(), '#');
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map.Get("name-a"), "value b");
  EXPECT_EQ(map.Get("z"), "zz");
  std::string out;
  ResponseHead r;
  r.headers = std::move(map);
  AppendResponseHead(r, &out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nName-A: value b\r\nZ: zz\r\n\r\n");
}

std::vector<std::string> Names(const HeaderMap& h) {
  std::vector<std::string> names;
  for (const HeaderView& f : h.fields()) names.emplace_back(f.name);
  return names;
}

// The head of the response in `buf` to a `method` request, copied whole or as forwarded.
ResponseHead ParsedResponse(const std::string& buf, bool forwarded,
                            std::string_view method = "GET") {
  ResponseParser p;
  p.ExpectResponseTo(method);
  EXPECT_EQ(p.Parse(buf).kind, StepKind::kHeadComplete);
  return forwarded ? ToForwardedResponseHead(p.head()) : ToResponseHead(p.head());
}

// The response head a proxy forwards is copied without the hop-by-hop fields (those
// Connection names too) and without Content-Length when there is a body: the same fields as
// a whole copy stripped afterwards, with no hop field left to look for. A hop field set
// later is noted and stripped.
TEST(Serializer, ForwardedResponseHeadLeavesHopFieldsOut) {
  std::string buf =
      "HTTP/1.1 200 OK\r\nServer: s\r\nConnection: keep-alive, X-Hop, close\r\nX-Hop: 1\r\n"
      "Content-Length: 2\r\nclose: c\r\nKeep-Alive: timeout=5\r\nX-Keep: y\r\n\r\nok";
  ResponseHead whole = ParsedResponse(buf, false);
  EXPECT_TRUE(whole.headers.may_hold_hop_fields());
  StripHopByHop(whole.headers);
  whole.headers.Remove("Content-Length");
  ResponseHead forwarded = ParsedResponse(buf, true);
  EXPECT_EQ(Names(forwarded.headers), Names(whole.headers));
  EXPECT_EQ(Names(forwarded.headers), (std::vector<std::string>{"Server", "X-Keep"}));
  EXPECT_FALSE(forwarded.headers.may_hold_hop_fields());
  EXPECT_EQ(forwarded.headers.Remove("content-length"), 0u);
  forwarded.headers.Set("Connection", "close");
  EXPECT_TRUE(forwarded.headers.may_hold_hop_fields());
  EXPECT_EQ(forwarded.headers.Get("connection"), "close");
  StripHopByHop(forwarded.headers);
  EXPECT_EQ(Names(forwarded.headers), (std::vector<std::string>{"Server", "X-Keep"}));
  forwarded.headers.Set("Content-Length", "2");
  EXPECT_EQ(forwarded.headers.Remove("Content-Length"), 1u);

  // No body (a HEAD's answer): its Content-Length is forwarded.
  ResponseHead kept =
      ParsedResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTE: x\r\n\r\n", true, "HEAD");
  EXPECT_EQ(Names(kept.headers), (std::vector<std::string>{"Content-Length"}));
  EXPECT_TRUE(kept.headers.may_hold_hop_fields());
}

// Beyond 64 fields the parser's bits end: the copy keeps every field, and stripping finds
// the hop-by-hop ones.
TEST(Serializer, ForwardedResponseHeadOfManyFieldsIsStrippedWhole) {
  std::string buf = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 70; ++i) buf += "X-" + std::to_string(i) + ": v\r\n";
  buf += "Connection: X-1\r\nContent-Length: 0\r\n\r\n";
  ResponseHead forwarded = ParsedResponse(buf, true);
  EXPECT_TRUE(forwarded.headers.may_hold_hop_fields());
  StripHopByHop(forwarded.headers);
  forwarded.headers.Remove("Content-Length");
  EXPECT_EQ(forwarded.headers.size(), 69u);
  EXPECT_FALSE(forwarded.headers.Has("x-1"));
  EXPECT_FALSE(forwarded.headers.Has("connection"));
}

// Framing lines the caller passes go after the fields as they are; a status of more than
// three digits is still written.
TEST(Serializer, ResponseHeadFramingAfterTheFields) {
  ResponseHead r;
  r.status = 503;
  r.headers.Add("Retry-After", "1");
  std::string out = "x";
  AppendResponseHead(r, &out, "Content-Length: 12\r\nConnection: close\r\n");
  EXPECT_EQ(out,
            "xHTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\n");
  r.status = 1000;
  r.reason = "Odd";
  out.clear();
  AppendResponseHead(r, &out);
  EXPECT_EQ(out, "HTTP/1.1 1000 Odd\r\nRetry-After: 1\r\n\r\n");
}

// The forwarded head is not a copy: its received fields are the parsed input's bytes, and a
// field added later is its own.
TEST(Serializer, ForwardedResponseHeadPointsIntoTheInput) {
  std::string buf = "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\nX-A: a\r\n\r\nok";
  ResponseHead forwarded = ParsedResponse(buf, true);
  ASSERT_EQ(Names(forwarded.headers), (std::vector<std::string>{"Server", "X-A"}));
  EXPECT_EQ(forwarded.headers.fields()[0].name.data(), buf.data() + 17);
  EXPECT_EQ(forwarded.headers.fields()[1].value.data(), buf.data() + 52);
  forwarded.headers.Add("X-Added", "b");
  buf.assign(buf.size(), '#');
  EXPECT_EQ(forwarded.headers.Get("x-added"), "b");
  ResponseHead whole = ParsedResponse("HTTP/1.1 200 OK\r\nServer: s\r\n\r\n", false);
  EXPECT_EQ(whole.headers.Get("server"), "s");  // a copy: its input is gone
}

// A request without hop fields is known to have none; one with them is stripped as before.
TEST(Serializer, RequestHeadKnowsItHasNoHopFields) {
  RequestHead plain = ParsedHead("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n");
  EXPECT_FALSE(plain.headers.may_hold_hop_fields());
  RequestHead copy = plain;
  EXPECT_FALSE(copy.headers.may_hold_hop_fields());
  plain.headers.Add("transfer-encoding", "chunked");
  EXPECT_TRUE(plain.headers.may_hold_hop_fields());
  StripHopByHop(plain.headers);
  EXPECT_EQ(Names(plain.headers), (std::vector<std::string>{"User-Agent"}));

  RequestHead hop = ParsedHead("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(hop.headers.may_hold_hop_fields());
  EXPECT_EQ(hop.headers.Remove("Content-Length"), 1u);
}

}  // namespace
}  // namespace xgate::http
