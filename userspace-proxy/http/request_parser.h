// Incremental, strict (RFC 9112) HTTP/1.x request parser for the server side.
//
// Usage, per connection, with `buf` holding the bytes received and not yet consumed:
//
//   http::RequestParser parser;
//   for (;;) {
//     http::Step step = parser.Parse(buf);
//     switch (step.kind) {
//       case StepKind::kNeedMore: read more into buf; continue;   // after dropping consumed
//       case StepKind::kHeadComplete: route parser.head() (views into buf); break;
//       case StepKind::kBodyData: forward step.body; break;
//       case StepKind::kMessageComplete: finish the exchange; break;
//       case StepKind::kError: answer ParseErrorStatus(parser.error()), close; return;
//     }
//     buf.erase(0, step.consumed);
//   }
//
// The head views stay valid as long as the caller keeps those input bytes in place (copy
// with ToRequestHead() before compacting the buffer). Bodies are never buffered: each
// kBodyData step returns a view of the bytes at hand. The parser stops after each message
// and resumes with the next one, so pipelined requests are handled one at a time.
// No allocation happens per message or per header after construction.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "userspace-proxy/http/framing.h"
#include "userspace-proxy/http/message.h"

namespace xgate::http {

// A parsed request head: views into the input passed to the Parse() call that returned
// kHeadComplete.
struct RequestHeadView {
  std::string_view method;
  std::string_view target;              // as received
  std::string_view path;                // path part of the target ("*" for asterisk-form)
  std::string_view query;               // without '?', "" when none
  std::string_view authority;           // absolute-form only: the target's authority
  int version_minor = 1;                // HTTP/1.<minor>
  std::span<const HeaderView> headers;  // in order received, Host included
  std::string_view host;  // authority of an absolute-form target, else the Host header

  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;   // kContentLength only
  bool keep_alive = true;        // the connection may serve another request after this one
  bool expect_continue = false;  // "Expect: 100-continue"
  bool upgrade = false;          // "Connection: upgrade" with an Upgrade header
  // Bit i for headers[i] (i < 64): hop-by-hop fields (with those Connection names), and
  // Content-Length fields.
  uint64_t hop_by_hop_fields = 0;
  uint64_t content_length_fields = 0;

  // First value of a header (case-insensitive name), or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
};

// An owned copy of the head, Host moved to RequestHead::host and the target reduced to
// origin-form (path plus query).
RequestHead ToRequestHead(const RequestHeadView& view);
// The same, written into `head` (no temporary to move).
void ToRequestHead(const RequestHeadView& view, RequestHead* head);

class RequestParser {
 public:
  explicit RequestParser(const Limits& limits = Limits());

  // Advances over `input` (the unconsumed bytes, see Step::consumed). Once kError is
  // returned, every later call returns kError again.
  Step Parse(std::string_view input);

  // Valid from kHeadComplete until the next message starts (while its input bytes live).
  const RequestHeadView& head() const { return head_; }
  // Trailer fields of a chunked body, valid at kMessageComplete.
  std::span<const HeaderView> trailers() const { return framer_.trailers(); }
  ParseError error() const { return framer_.error(); }
  // True between kHeadComplete and kMessageComplete.
  bool in_body() const { return framer_.in_body(); }
  // Forget everything (a new connection).
  void Reset();
  // The peer closed the connection: kNeedMore when between messages (nothing lost), else
  // kError with kUnexpectedEof.
  Step OnEof();

 private:
  Step ParseHead(std::string_view input);
  ParseError Interpret(std::string_view input);

  MessageFramer framer_;
  RequestHeadView head_;
};

}  // namespace xgate::http
