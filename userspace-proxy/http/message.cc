#include "userspace-proxy/http/message.h"

#include <algorithm>
#include <cstring>

namespace xgate::http {

bool IsHopByHop(std::string_view name) {
  // By first letter and length first: most fields are none of these and cost a compare or
  // a switch.
  if (name.empty()) return false;
  switch (name[0] | 0x20) {
    case 'c':
    case 'k':
    case 'p':
    case 't':
    case 'u':
      break;
    default:
      return false;
  }
  switch (name.size()) {
    case 2:
      return EqualsIgnoreCase(name, "te");
    case 7:
      return EqualsIgnoreCase(name, "trailer") || EqualsIgnoreCase(name, "upgrade");
    case 10:
      return EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "keep-alive");
    case 16:
      return EqualsIgnoreCase(name, "proxy-connection");
    case 17:
      return EqualsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

bool IsHopField(std::string_view name) {
  return name.size() == 14 ? EqualsIgnoreCase(name, "content-length") : IsHopByHop(name);
}

HeaderMap::HeaderMap(const HeaderMap& other) { *this = other; }

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this == &other) return *this;
  size_t bytes = 0;
  for (const HeaderView& h : other.fields_) bytes += h.name.size() + h.value.size();
  fields_.clear();
  fields_.reserve(other.fields_.size());
  chunk_.reset();
  old_chunks_.clear();
  cursor_ = nullptr;
  left_ = 0;
  received_ = {};
  hop_fields_ = other.hop_fields_;
  if (bytes > 0) {
    chunk_ = std::make_unique_for_overwrite<char[]>(bytes);
    cursor_ = chunk_.get();
    left_ = bytes;
  }
  for (const HeaderView& h : other.fields_) fields_.push_back({Store(h.name), Store(h.value)});
  return *this;
}

HeaderMap::HeaderMap(HeaderMap&& other) noexcept { *this = std::move(other); }

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this == &other) return *this;
  // The chunks move as they are: views into them stay valid.
  fields_ = std::move(other.fields_);
  chunk_ = std::move(other.chunk_);
  old_chunks_ = std::move(other.old_chunks_);
  cursor_ = other.cursor_;
  left_ = other.left_;
  received_ = other.received_;
  hop_fields_ = other.hop_fields_;
  other.received_ = {};
  other.hop_fields_ = false;
  other.fields_.clear();
  other.old_chunks_.clear();
  other.cursor_ = nullptr;
  other.left_ = 0;
  return *this;
}

char* HeaderMap::Allocate(size_t n) {
  if (n > left_) {
    // A new chunk, rarely (once per map for most): out of line.
    [this](size_t size) __attribute__((noinline)) {
      if (chunk_) old_chunks_.push_back(std::move(chunk_));
      size = std::max<size_t>(size, 256);
      chunk_ = std::make_unique_for_overwrite<char[]>(size);
      cursor_ = chunk_.get();
      left_ = size;
    }
    (n);
  }
  char* out = cursor_;
  cursor_ += n;
  left_ -= n;
  return out;
}

std::string_view HeaderMap::Store(std::string_view bytes) {
  if (bytes.empty()) return {};
  char* out = Allocate(bytes.size());
  std::memcpy(out, bytes.data(), bytes.size());
  return {out, bytes.size()};
}

std::string_view ParsedFieldBlock(std::span<const HeaderView> views) {
  if (views.empty() || views.front().name.empty()) return {};
  const HeaderView& last = views.back();
  const char* begin = views.front().name.data();
  const char* end = last.value.empty() ? last.name.data() + last.name.size()
                                       : last.value.data() + last.value.size();
  return end > begin ? std::string_view(begin, static_cast<size_t>(end - begin))
                     : std::string_view();
}

void HeaderMap::CopyFrom(std::span<const HeaderView> views, std::string_view block,
                         const CopyOptions& options) {
  fields_.clear();
  received_ = {};
  hop_fields_ = options.hop_fields;
  if (views.empty()) return;
  std::string_view skip = options.skip;
  size_t extra = options.extra;
  fields_.reserve(views.size() + 4);
  // Copy the block once and point into the copy; views outside it are copied one by one.
  auto begin = reinterpret_cast<uintptr_t>(block.data());
  auto inside = [&](std::string_view part) {
    auto at = reinterpret_cast<uintptr_t>(part.data());
    return at >= begin && at + part.size() <= begin + block.size();
  };
  const char* copy = block.data();
  if (!options.borrow) {
    char* room = Allocate(block.size() + extra);
    if (!block.empty()) std::memcpy(room, block.data(), block.size());
    cursor_ -= extra;  // the room for later fields is given back to the arena
    left_ += extra;
    copy = room;
  }
  received_ = std::string_view(copy, block.size());
  auto rebase = [&](std::string_view part) {
    if (part.empty()) return std::string_view();
    if (!block.empty() && inside(part)) {
      return std::string_view(copy + (reinterpret_cast<uintptr_t>(part.data()) - begin),
                              part.size());
    }
    return Store(part);
  };
  uint64_t skip_fields = options.skip_fields;
  for (size_t i = 0; i < views.size(); ++i) {
    const HeaderView& h = views[i];
    if (i < 64 && (skip_fields >> i) & 1) continue;
    if (!skip.empty() && EqualsIgnoreCase(h.name, skip)) continue;
    fields_.push_back({rebase(h.name), rebase(h.value)});
  }
}

std::optional<std::string_view> HeaderMap::Get(std::string_view name) const {
  for (const HeaderView& h : fields_) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::optional<std::string> HeaderMap::GetJoined(std::string_view name) const {
  std::optional<std::string> joined;
  for (const HeaderView& h : fields_) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (joined) {
      joined->append(", ");
      joined->append(h.value);
    } else {
      joined.emplace(h.value);
    }
  }
  return joined;
}

bool HeaderMap::Has(std::string_view name) const { return Get(name).has_value(); }

void HeaderMap::Set(std::string_view name, std::string_view value) {
  if (!hop_fields_ && IsHopField(name)) {  // none held: nothing to replace
    hop_fields_ = true;
    fields_.push_back(HeaderView{Store(name), Store(value)});
    return;
  }
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const HeaderView& h) { return EqualsIgnoreCase(h.name, name); });
  if (first == fields_.end()) {
    Add(name, value);
    return;
  }
  first->value = Store(value);
  auto rest = std::remove_if(first + 1, fields_.end(),
                             [&](const HeaderView& h) { return EqualsIgnoreCase(h.name, name); });
  fields_.erase(rest, fields_.end());
}

void HeaderMap::Add(std::string_view name, std::string_view value) {
  if (!hop_fields_ && IsHopField(name)) hop_fields_ = true;
  // Name and value side by side: one allocation from the arena.
  char* out = Allocate(name.size() + value.size());
  if (!name.empty()) std::memcpy(out, name.data(), name.size());
  if (!value.empty()) std::memcpy(out + name.size(), value.data(), value.size());
  fields_.push_back(HeaderView{
      name.empty() ? std::string_view() : std::string_view(out, name.size()),
      value.empty() ? std::string_view() : std::string_view(out + name.size(), value.size())});
}

size_t HeaderMap::Remove(std::string_view name) {
  if (!hop_fields_ && IsHopField(name)) return 0;
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const HeaderView& h) { return EqualsIgnoreCase(h.name, name); });
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
