#include "userspace-proxy/http/message.h"

#include <algorithm>

namespace xgate::http {

std::optional<std::string_view> HeaderMap::Get(std::string_view name) const {
  for (const Header& h : fields_) {
    if (EqualsIgnoreCase(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::optional<std::string> HeaderMap::GetJoined(std::string_view name) const {
  std::optional<std::string> joined;
  for (const Header& h : fields_) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (joined) {
      joined->append(", ");
      joined->append(h.value);
    } else {
      joined = h.value;
    }
  }
  return joined;
}

bool HeaderMap::Has(std::string_view name) const { return Get(name).has_value(); }

void HeaderMap::Set(std::string_view name, std::string_view value) {
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const Header& h) { return EqualsIgnoreCase(h.name, name); });
  if (first == fields_.end()) {
    Add(name, value);
    return;
  }
  first->value.assign(value);
  auto rest = std::remove_if(first + 1, fields_.end(),
                             [&](const Header& h) { return EqualsIgnoreCase(h.name, name); });
  fields_.erase(rest, fields_.end());
}

void HeaderMap::Add(std::string_view name, std::string_view value) {
  fields_.push_back(Header{std::string(name), std::string(value)});
}

size_t HeaderMap::Remove(std::string_view name) {
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const Header& h) { return EqualsIgnoreCase(h.name, name); });
  size_t removed = static_cast<size_t>(fields_.end() - rest);
  fields_.erase(rest, fields_.end());
  return removed;
}

std::string_view RequestHead::PathOnly() const {
  std::string_view p = path;
  return p.substr(0, p.find('?'));
}

std::string_view RequestHead::Query() const {
  std::string_view p = path;
  size_t q = p.find('?');
  return q == std::string_view::npos ? std::string_view() : p.substr(q + 1);
}

std::string_view RequestHead::HostWithoutPort() const {
  std::string_view h = host;
  if (!h.empty() && h.front() == '[') {
    size_t close = h.find(']');
    return close == std::string_view::npos ? h : h.substr(0, close + 1);
  }
  size_t colon = h.rfind(':');
  return colon == std::string_view::npos ? h : h.substr(0, colon);
}

std::string_view ParseErrorName(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return "none";
    case ParseError::kBadMethod:
      return "bad_method";
    case ParseError::kBadTarget:
      return "bad_target";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kUnsupportedVersion:
      return "unsupported_version";
    case ParseError::kRequestLineTooLong:
      return "request_line_too_long";
    case ParseError::kHeadTooLarge:
      return "head_too_large";
    case ParseError::kTooManyHeaders:
      return "too_many_headers";
    case ParseError::kBadHeaderName:
      return "bad_header_name";
    case ParseError::kWhitespaceBeforeColon:
      return "whitespace_before_colon";
    case ParseError::kObsFold:
      return "obs_fold";
    case ParseError::kBareCR:
      return "bare_cr";
    case ParseError::kBareLF:
      return "bare_lf";
    case ParseError::kNulByte:
      return "nul_byte";
    case ParseError::kBadHeaderValue:
      return "bad_header_value";
    case ParseError::kMissingHost:
      return "missing_host";
    case ParseError::kDuplicateHost:
      return "duplicate_host";
    case ParseError::kBadHost:
      return "bad_host";
    case ParseError::kBadContentLength:
      return "bad_content_length";
    case ParseError::kConflictingContentLength:
      return "conflicting_content_length";
    case ParseError::kContentLengthWithTransferEncoding:
      return "content_length_with_transfer_encoding";
    case ParseError::kTransferEncodingNotChunked:
      return "transfer_encoding_not_chunked";
    case ParseError::kUnsupportedTransferEncoding:
      return "unsupported_transfer_encoding";
    case ParseError::kTransferEncodingInHttp10:
      return "transfer_encoding_in_http10";
    case ParseError::kBadChunkSize:
      return "bad_chunk_size";
    case ParseError::kChunkSizeOverflow:
      return "chunk_size_overflow";
    case ParseError::kBadChunkExtension:
      return "bad_chunk_extension";
    case ParseError::kBadChunkTerminator:
      return "bad_chunk_terminator";
    case ParseError::kTrailersTooLarge:
      return "trailers_too_large";
    case ParseError::kBadTrailer:
      return "bad_trailer";
    case ParseError::kBadStatusLine:
      return "bad_status_line";
    case ParseError::kUnsupportedMethod:
      return "unsupported_method";
    case ParseError::kUnexpectedEof:
      return "unexpected_eof";
  }
  return "unknown";
}

int ParseErrorStatus(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return 0;
    case ParseError::kRequestLineTooLong:
      return 414;
    case ParseError::kHeadTooLarge:
    case ParseError::kTooManyHeaders:
    case ParseError::kTrailersTooLarge:
      return 431;
    case ParseError::kUnsupportedTransferEncoding:
    case ParseError::kUnsupportedMethod:
      return 501;
    case ParseError::kUnsupportedVersion:
      return 505;
    default:
      return 400;
  }
}

}  // namespace xgate::http
