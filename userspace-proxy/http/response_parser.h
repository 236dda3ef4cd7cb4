// Incremental, strict (RFC 9112) HTTP/1.x response parser for the client side (replies
// from upstream). Same stepping contract as RequestParser (see request_parser.h).
//
// Body rules (RFC 9112 6.3): a response to HEAD, any 1xx, 204 and 304 have no body;
// chunked when Transfer-Encoding ends in chunked; Content-Length; else until close.
// A 1xx response (e.g. 100 Continue) completes as its own message and the parser then
// expects the final response to the same request.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "userspace-proxy/http/framing.h"
#include "userspace-proxy/http/message.h"

namespace xgate::http {

struct ResponseHeadView {
  int version_minor = 1;
  int status = 0;
  std::string_view reason;
  std::span<const HeaderView> headers;

  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // kContentLength only
  bool keep_alive = true;       // the upstream connection may be reused after this response
  // Bit i for headers[i] (i < 64): hop-by-hop fields (with those Connection names), and
  // Content-Length fields.
  uint64_t hop_by_hop_fields = 0;
  uint64_t content_length_fields = 0;

  std::optional<std::string_view> Get(std::string_view name) const;
};

// An owned copy of the head.
ResponseHead ToResponseHead(const ResponseHeadView& view);
// The head a proxy forwards: without the hop-by-hop fields, nor Content-Length when the
// response has a body (its framing is the next hop's to write). Not a copy: its received
// fields point into the parsed input, which must stay in place while the head is used
// (fields set or added later are the head's own).
ResponseHead ToForwardedResponseHead(const ResponseHeadView& view);

class ResponseParser {
 public:
  explicit ResponseParser(const Limits& limits = Limits());

  // The method of the request this response answers ("HEAD" means no body). Call before
  // parsing each response; it is kept across 1xx interim responses.
  void ExpectResponseTo(std::string_view method);

  Step Parse(std::string_view input);
  // The upstream closed: kMessageComplete for an until-close body, kNeedMore when between
  // messages, else kError with kUnexpectedEof.
  Step OnEof();

  const ResponseHeadView& head() const { return head_; }
  std::span<const HeaderView> trailers() const { return framer_.trailers(); }
  ParseError error() const { return framer_.error(); }
  bool in_body() const { return framer_.in_body(); }
  void Reset();

 private:
  Step ParseHead(std::string_view input);
  ParseError Interpret(std::string_view input);

  bool head_request_ = false;
  MessageFramer framer_;
  ResponseHeadView head_;
};

}  // namespace xgate::http
