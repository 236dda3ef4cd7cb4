#include "userspace-proxy/http/response_parser.h"

#include "userspace-proxy/http/header_semantics.h"

namespace xgate::http {
namespace {

FieldBlockScanner::Config HeadConfig(const Limits& limits) {
  FieldBlockScanner::Config c;
  c.has_start_line = true;
  c.max_start_line = limits.max_request_line;
  c.max_bytes = limits.max_head_bytes;
  c.max_fields = limits.max_headers;
  c.start_line_too_long = ParseError::kHeadTooLarge;
  return c;
}

bool ReasonChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return c == ' ' || c == '\t' || (u >= 0x21 && u != 0x7f);
}

}  // namespace

std::optional<std::string_view> ResponseHeadView::Get(std::string_view name) const {
  for (const HeaderView& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

namespace {

ResponseHead CopyHead(const ResponseHeadView& view, bool forwarded) {
  ResponseHead head;
  head.status = view.status;
  head.reason.assign(view.reason);
  head.version_minor = view.version_minor;
  // One copy of the field block (none when forwarded), with room for the fields the proxy
  // adds (filters, framing).
  HeaderMap::CopyOptions copy;
  copy.extra = 64;
  uint64_t content_length = view.framing == BodyFraming::kNone ? 0 : view.content_length_fields;
  copy.borrow = forwarded;
  if (forwarded && view.headers.size() <= 64) {
    copy.skip_fields = view.hop_by_hop_fields | content_length;
    copy.hop_fields = (view.content_length_fields & ~content_length) != 0;
  } else {
    copy.hop_fields =
        (view.hop_by_hop_fields | view.content_length_fields) != 0 || view.headers.size() > 64;
  }
  head.headers.CopyFrom(view.headers, ParsedFieldBlock(view.headers), copy);
  return head;
}

}  // namespace

ResponseHead ToResponseHead(const ResponseHeadView& view) { return CopyHead(view, false); }

ResponseHead ToForwardedResponseHead(const ResponseHeadView& view) { return CopyHead(view, true); }

ResponseParser::ResponseParser(const Limits& limits) : framer_(HeadConfig(limits), limits) {}

void ResponseParser::ExpectResponseTo(std::string_view method) { head_request_ = method == "HEAD"; }

void ResponseParser::Reset() {
  framer_.Reset();
  head_request_ = false;
  head_ = ResponseHeadView();
}

Step ResponseParser::OnEof() { return framer_.OnEof(); }

Step ResponseParser::Parse(std::string_view input) {
  return framer_.Parse(input, [this](std::string_view in) { return ParseHead(in); });
}

Step ResponseParser::ParseHead(std::string_view input) {
  return framer_.ScanHead(input, 0, [this](std::string_view block) {
    ParseError error = Interpret(block);
    return MessageFramer::HeadResult{error, head_.framing, head_.content_length};
  });
}

ParseError ResponseParser::Interpret(std::string_view block) {
  head_ = ResponseHeadView();
  std::string_view line = framer_.scanner().start_line(block);
  // status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]; the last SP is tolerated
  // missing, as many servers omit it with an empty reason.
  if (line.size() < 12 || line[8] != ' ') return ParseError::kBadStatusLine;
  if (ParseError e = internal::ParseVersion(line.substr(0, 8), &head_.version_minor);
      e != ParseError::kNone) {
    return e == ParseError::kBadVersion ? ParseError::kBadStatusLine : e;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return ParseError::kBadStatusLine;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return ParseError::kBadStatusLine;
  head_.status = status;
  if (line.size() > 12) {
    if (line[12] != ' ') return ParseError::kBadStatusLine;
    head_.reason = line.substr(13);
    for (char c : head_.reason) {
      if (!ReasonChar(c)) return ParseError::kBadStatusLine;
    }
  }

  head_.headers = framer_.scanner().fields();
  internal::FieldSummary f;
  if (ParseError e = internal::Summarize(head_.headers, &f); e != ParseError::kNone) return e;

  bool no_body = head_request_ || status < 200 || status == 204 || status == 304;
  if (no_body) {
    head_.framing = BodyFraming::kNone;
  } else if (f.has_transfer_encoding) {
    if (head_.version_minor == 0) return ParseError::kTransferEncodingInHttp10;
    if (f.has_content_length) return ParseError::kContentLengthWithTransferEncoding;
    if (f.chunked_count > 1) return ParseError::kTransferEncodingNotChunked;
    if (f.chunked_final && f.other_coding) return ParseError::kUnsupportedTransferEncoding;
    // RFC 9112 6.3: a response whose final coding is not chunked runs until close.
    head_.framing = f.chunked_final ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  } else if (f.has_content_length) {
    head_.framing = f.content_length > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
    head_.content_length = f.content_length;
  } else {
    head_.framing = BodyFraming::kUntilClose;
  }
  head_.keep_alive = head_.framing != BodyFraming::kUntilClose &&
                     (head_.version_minor >= 1 ? !f.connection_close
                                               : (f.connection_keep_alive && !f.connection_close));
  head_.hop_by_hop_fields = f.hop_by_hop_fields;
  head_.content_length_fields = f.content_length_fields;
  return ParseError::kNone;
}

}  // namespace xgate::http
