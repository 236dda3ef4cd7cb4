#include "userspace-proxy/http/request_parser.h"

#include "userspace-proxy/http/chars.h"
#include "userspace-proxy/http/header_semantics.h"

namespace xgate::http {
namespace {

FieldBlockScanner::Config HeadConfig(const Limits& limits) {
  FieldBlockScanner::Config c;
  c.has_start_line = true;
  c.max_start_line = limits.max_request_line;
  c.max_bytes = limits.max_head_bytes;
  c.max_fields = limits.max_headers;
  c.start_line_too_long = ParseError::kRequestLineTooLong;
  return c;
}

// Bytes allowed in a request-target: visible ASCII except '#' (no fragment on the wire).
bool TargetChar(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

// reg-name, IP-literal and port characters of RFC 3986 (a Host value or an authority).
bool HostChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%':
    case ':':
    case '[':
    case ']':
      return true;
    default:
      return false;
  }
}

bool ValidHost(std::string_view host) {
  for (char c : host) {
    if (!HostChar(c)) return false;
  }
  return true;
}

// Splits an origin-form "path?query" into its parts.
void SplitPathQuery(std::string_view target, std::string_view* path, std::string_view* query) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    *path = target;
    *query = {};
  } else {
    *path = target.substr(0, q);
    *query = target.substr(q + 1);
  }
}

constexpr std::string_view kRootPath = "/";

}  // namespace

std::optional<std::string_view> RequestHeadView::Get(std::string_view name) const {
  for (const HeaderView& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

RequestHead ToRequestHead(const RequestHeadView& view) {
  RequestHead head;
  ToRequestHead(view, &head);
  return head;
}

void ToRequestHead(const RequestHeadView& view, RequestHead* out) {
  RequestHead& head = *out;
  head.method.assign(view.method);
  head.path.reserve(view.path.size() + view.query.size() + 1);
  head.path.assign(view.path);
  if (view.target.find('?') != std::string_view::npos) {
    head.path.push_back('?');
    head.path.append(view.query);
  }
  head.host.assign(view.host);
  head.version_minor = view.version_minor;
  // One copy of the field block, with room for the fields the proxy adds (forwarding
  // headers, filters, framing).
  HeaderMap::CopyOptions copy;
  copy.skip = "host";
  copy.hop_fields =
      (view.hop_by_hop_fields | view.content_length_fields) != 0 || view.headers.size() > 64;
  copy.extra = 160;
  head.headers.CopyFrom(view.headers, ParsedFieldBlock(view.headers), copy);
}

RequestParser::RequestParser(const Limits& limits) : framer_(HeadConfig(limits), limits) {}

void RequestParser::Reset() {
  framer_.Reset();
  head_ = RequestHeadView();
}

Step RequestParser::OnEof() { return framer_.OnEof(); }

Step RequestParser::Parse(std::string_view input) {
  return framer_.Parse(input, [this](std::string_view in) { return ParseHead(in); });
}

Step RequestParser::ParseHead(std::string_view input) {
  size_t skip = 0;
  if (!framer_.scanner().started()) {
    // RFC 9112 2.2: empty lines before a request-line are ignored.
    while (input.size() - skip >= 2 && input[skip] == '\r' && input[skip + 1] == '\n') skip += 2;
    if (input.size() - skip == 1 && input[skip] == '\r') return Step{StepKind::kNeedMore, skip, {}};
  }
  return framer_.ScanHead(input.substr(skip), skip, [this](std::string_view block) {
    ParseError error = Interpret(block);
    return MessageFramer::HeadResult{error, head_.framing, head_.content_length};
  });
}

ParseError RequestParser::Interpret(std::string_view block) {
  head_ = RequestHeadView();
  std::string_view line = framer_.scanner().start_line(block);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return ParseError::kBadMethod;
  head_.method = line.substr(0, sp1);
  for (char c : head_.method) {
    if (!chars::Token(c)) return ParseError::kBadMethod;
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return ParseError::kBadVersion;
  head_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (head_.target.empty()) return ParseError::kBadTarget;
  if (ParseError e = internal::ParseVersion(line.substr(sp2 + 1), &head_.version_minor);
      e != ParseError::kNone) {
    return e;
  }
  if (head_.method == "CONNECT") return ParseError::kUnsupportedMethod;
  for (char c : head_.target) {
    if (!TargetChar(c)) return ParseError::kBadTarget;
  }
  std::string_view t = head_.target;
  if (t[0] == '/') {
    SplitPathQuery(t, &head_.path, &head_.query);
  } else if (t == "*") {
    if (head_.method != "OPTIONS") return ParseError::kBadTarget;
    head_.path = t;
  } else {
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]
    size_t colon = t.find("://");
    if (colon == std::string_view::npos || colon == 0) return ParseError::kBadTarget;
    for (size_t i = 0; i < colon; ++i) {
      char c = t[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
      if (!ok) return ParseError::kBadTarget;
    }
    std::string_view rest = t.substr(colon + 3);
    size_t end = rest.find_first_of("/?");
    if (end == std::string_view::npos) end = rest.size();
    head_.authority = rest.substr(0, end);
    if (head_.authority.empty() || head_.authority.find('@') != std::string_view::npos ||
        !ValidHost(head_.authority)) {
      return ParseError::kBadTarget;
    }
    std::string_view path_query = rest.substr(end);
    SplitPathQuery(path_query, &head_.path, &head_.query);
    if (head_.path.empty()) head_.path = kRootPath;
  }

  head_.headers = framer_.scanner().fields();
  internal::FieldSummary f;
  if (ParseError e = internal::Summarize(head_.headers, &f); e != ParseError::kNone) return e;
  if (f.host_count > 1) return ParseError::kDuplicateHost;
  if (f.host_count == 0 && head_.version_minor >= 1) return ParseError::kMissingHost;
  if (!ValidHost(f.host)) return ParseError::kBadHost;
  head_.host = head_.authority.empty() ? f.host : head_.authority;

  if (f.has_transfer_encoding) {
    if (head_.version_minor == 0) return ParseError::kTransferEncodingInHttp10;
    if (f.has_content_length) return ParseError::kContentLengthWithTransferEncoding;
    if (!f.chunked_final || f.chunked_count > 1) return ParseError::kTransferEncodingNotChunked;
    if (f.other_coding) return ParseError::kUnsupportedTransferEncoding;
    head_.framing = BodyFraming::kChunked;
  } else if (f.has_content_length && f.content_length > 0) {
    head_.framing = BodyFraming::kContentLength;
    head_.content_length = f.content_length;
  } else {
    head_.framing = BodyFraming::kNone;
  }
  head_.keep_alive = head_.version_minor >= 1 ? !f.connection_close
                                              : (f.connection_keep_alive && !f.connection_close);
  head_.expect_continue = f.expect_continue && head_.version_minor >= 1;
  head_.upgrade = f.connection_upgrade && f.has_upgrade;
  head_.hop_by_hop_fields = f.hop_by_hop_fields;
  head_.content_length_fields = f.content_length_fields;
  return ParseError::kNone;
}

}  // namespace xgate::http
