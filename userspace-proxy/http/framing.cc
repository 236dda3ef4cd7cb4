#include "userspace-proxy/http/framing.h"

#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <limits>

#include "userspace-proxy/http/chars.h"

namespace xgate::http {
namespace {

// Bounds the chunk-size line (size plus extensions).
constexpr size_t kMaxChunkSizeLine = 4096;

// The error for a byte that may not appear in a field line or start line.
ParseError ControlCharError(char c) {
  if (c == '\r') return ParseError::kBareCR;
  if (c == '\0') return ParseError::kNulByte;
  return ParseError::kBadHeaderValue;
}

}  // namespace

FieldBlockScanner::FieldBlockScanner(const Config& config) : config_(config) {
  fields_.reserve(config_.max_fields);
}

void FieldBlockScanner::Reset() {
  scan_pos_ = 0;
  line_start_ = 0;
  start_line_end_ = 0;
  block_size_ = 0;
  start_line_done_ = false;
  error_ = ParseError::kNone;
  fields_.clear();
  base_ = nullptr;
}

FieldBlockScanner::Result FieldBlockScanner::Fail(ParseError error) {
  error_ = error;
  return Result::kError;
}

namespace {

// The first byte at or after `i` (before `end`) that is not a token character. Inline, as
// the next one: called for each field line.
[[gnu::always_inline]] inline size_t SkipToken(std::string_view input, size_t i, size_t end) {
#if defined(__SSE2__)
  // Sixteen bytes at a time, straight to the first byte that is not a letter, digit or '-'
  // (in nearly every name, the colon); the table decides the others.
  const __m128i case_bit = _mm_set1_epi8(0x20);
  while (i + 16 <= end) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(input.data() + i));
    __m128i lower = _mm_or_si128(c, case_bit);
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
    __m128i ok = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(c, _mm_set1_epi8('-')));
    unsigned others = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xffff;
    if (others == 0) {
      i += 16;
      continue;
    }
    i += static_cast<size_t>(std::countr_zero(others));
    if (!chars::Token(input[i])) return i;
    ++i;
  }
#endif
  while (i < end && chars::Token(input[i])) ++i;
  return i;
}

// The first byte at or after `i` (before `end`) that may not be in a field value.
[[gnu::always_inline]] inline size_t SkipFieldValue(std::string_view input, size_t i, size_t end) {
  // Straight to the first byte below 0x20 or equal to 0x7f (the rest are field-vchar, SP
  // or obs-text): HTAB goes on, another ends the value (CR, or an error).
#if defined(__SSE2__)
  while (i + 16 <= end) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(input.data() + i));
    __m128i control =
        _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8(-1)), _mm_cmplt_epi8(c, _mm_set1_epi8(0x20)));
    __m128i bad = _mm_or_si128(control, _mm_cmpeq_epi8(c, _mm_set1_epi8(0x7f)));
    unsigned stops = static_cast<unsigned>(_mm_movemask_epi8(bad));
    if (stops == 0) {
      i += 16;
      continue;
    }
    i += static_cast<size_t>(std::countr_zero(stops));
    if (input[i] != '\t') return i;
    ++i;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
  while (i + 8 <= end) {
    uint64_t word;
    std::memcpy(&word, input.data() + i, 8);
    uint64_t control = (word - kOnes * 0x20) & ~word & kHighs;
    uint64_t del = word ^ (kOnes * 0x7f);
    if (control | ((del - kOnes) & ~del & kHighs)) break;
    i += 8;
  }
  while (i < end && chars::FieldValue(input[i])) ++i;
  return i;
}

// The first CR or NUL at or after `i` (before `end`).
size_t FindCrOrNul(std::string_view input, size_t i, size_t end) {
#if defined(__SSE2__)
  while (i + 16 <= end) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(input.data() + i));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('\r')),
                               _mm_cmpeq_epi8(c, _mm_setzero_si128()));
    if (unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(hit)); hits != 0) {
      return i + static_cast<size_t>(std::countr_zero(hits));
    }
    i += 16;
  }
#endif
  while (i < end && input[i] != '\r' && input[i] != '\0') ++i;
  return i;
}

size_t SkipWhitespace(std::string_view input, size_t i, size_t end) {
  while (i < end && (input[i] == ' ' || input[i] == '\t')) ++i;
  return i;
}

}  // namespace

[[gnu::always_inline]] inline void FieldBlockScanner::PushField(std::string_view input,
                                                                size_t begin, size_t name_end,
                                                                size_t value_begin,
                                                                size_t value_end) {
  while (value_end > value_begin && (input[value_end - 1] == ' ' || input[value_end - 1] == '\t')) {
    --value_end;
  }
  fields_.push_back(
      HeaderView{std::string_view(input.data() + begin, name_end - begin),
                 std::string_view(input.data() + value_begin, value_end - value_begin)});
}

ParseError FieldBlockScanner::AddField(std::string_view input, size_t begin, size_t end) {
  size_t i = SkipToken(input, begin, end);
  if (i == end) return ParseError::kBadHeaderName;  // no colon
  char c = input[i];
  if (c != ':') {
    if (c == ' ' || c == '\t') return ParseError::kWhitespaceBeforeColon;
    if (c == '\r' || c == '\0') return ControlCharError(c);
    return ParseError::kBadHeaderName;
  }
  if (i == begin) return ParseError::kBadHeaderName;  // empty name
  size_t name_end = i;
  size_t value_begin = SkipWhitespace(input, i + 1, end);
  i = SkipFieldValue(input, value_begin, end);
  if (i < end) return ControlCharError(input[i]);
  PushField(input, begin, name_end, value_begin, end);
  return ParseError::kNone;
}

size_t FieldBlockScanner::ScanWellFormedLine(std::string_view input) {
  size_t begin = line_start_, size = input.size();
  size_t i = SkipToken(input, begin, size);
  if (i == begin || i == size || input[i] != ':') return 0;
  size_t name_end = i;
  size_t value_begin = SkipWhitespace(input, i + 1, size);
  i = SkipFieldValue(input, value_begin, size);
  // The first byte past the value must be the CR of the line's CRLF: no LF came before it,
  // as LF is in neither a name nor a value.
  if (i + 1 >= size || input[i] != '\r' || input[i + 1] != '\n') return 0;
  size_t lf = i + 1;
  if (lf + 1 > config_.max_bytes || fields_.size() >= config_.max_fields) return 0;
  PushField(input, begin, name_end, value_begin, i);
  return lf;
}

FieldBlockScanner::Result FieldBlockScanner::Scan(std::string_view input) {
  if (error_ != ParseError::kNone) return Result::kError;
  if (input.data() != base_) {
    // The caller's buffer moved (same bytes, elsewhere): the fields found so far follow.
    for (HeaderView& f : fields_) {
      f.name = std::string_view(input.data() + (f.name.data() - base_), f.name.size());
      f.value = std::string_view(input.data() + (f.value.data() - base_), f.value.size());
    }
    base_ = input.data();
  }
  for (;;) {
    // Common case first: a whole, valid field line, checked in one pass without searching
    // for its LF first. Anything else (the start line, the end of the block, a line cut
    // short, an error) takes the general way below, which gives the same fields.
    if ((start_line_done_ || !config_.has_start_line) && scan_pos_ == line_start_) {
      if (line_start_ + 1 < input.size() && input[line_start_] == '\r' &&
          input[line_start_ + 1] == '\n' && line_start_ + 2 <= config_.max_bytes) {
        scan_pos_ = block_size_ = line_start_ + 2;  // the empty line ending the block
        return Result::kDone;
      }
      if (size_t lf = ScanWellFormedLine(input); lf != 0) {
        scan_pos_ = line_start_ = lf + 1;
        continue;
      }
    }
    const void* lf_ptr = scan_pos_ < input.size()
                             ? std::memchr(input.data() + scan_pos_, '\n', input.size() - scan_pos_)
                             : nullptr;
    if (lf_ptr == nullptr) {
      scan_pos_ = input.size();
      if (config_.has_start_line && !start_line_done_ &&
          input.size() - line_start_ > config_.max_start_line + 1) {
        return Fail(config_.start_line_too_long);
      }
      if (input.size() > config_.max_bytes) return Fail(config_.too_large);
      return Result::kNeedMore;
    }
    size_t lf = static_cast<const char*>(lf_ptr) - input.data();
    scan_pos_ = lf + 1;
    if (lf + 1 > config_.max_bytes) return Fail(config_.too_large);
    if (lf == line_start_ || input[lf - 1] != '\r') return Fail(ParseError::kBareLF);
    size_t line_end = lf - 1;
    std::string_view line = input.substr(line_start_, line_end - line_start_);
    if (config_.has_start_line && !start_line_done_) {
      if (line.size() > config_.max_start_line) return Fail(config_.start_line_too_long);
      // Searched up to the end of the input, which the line's CR ends at the latest: the
      // search then goes by blocks even for a short line.
      if (size_t bad = FindCrOrNul(input, line_start_, input.size()); bad < line_end) {
        return Fail(ControlCharError(input[bad]));
      }
      start_line_end_ = line_end;
      start_line_done_ = true;
      line_start_ = lf + 1;
      continue;
    }
    if (line.empty()) {
      block_size_ = lf + 1;
      return Result::kDone;
    }
    if (line[0] == ' ' || line[0] == '\t') return Fail(ParseError::kObsFold);
    if (fields_.size() >= config_.max_fields) return Fail(config_.too_many);
    if (ParseError e = AddField(input, line_start_, line_end); e != ParseError::kNone) {
      return Fail(e);
    }
    line_start_ = lf + 1;
  }
}

std::string_view FieldBlockScanner::start_line(std::string_view input) const {
  return input.substr(0, start_line_end_);
}

namespace {

FieldBlockScanner::Config TrailerConfig(const Limits& limits) {
  FieldBlockScanner::Config c;
  c.has_start_line = false;
  c.max_bytes = limits.max_trailer_bytes;
  c.max_fields = limits.max_trailers;
  c.too_large = ParseError::kTrailersTooLarge;
  c.too_many = ParseError::kTrailersTooLarge;
  return c;
}

}  // namespace

BodyDecoder::BodyDecoder(const Limits& limits) : trailer_scanner_(TrailerConfig(limits)) {
  trailers_.reserve(limits.max_trailers);
}

void BodyDecoder::Reset() {
  state_ = State::kDone;
  error_ = ParseError::kNone;
  remaining_ = 0;
  chunk_size_ = 0;
  size_digits_ = 0;
  size_line_bytes_ = 0;
  trailer_scanner_.Reset();
  trailers_.clear();
}

void BodyDecoder::Start(BodyFraming framing, uint64_t content_length) {
  Reset();
  switch (framing) {
    case BodyFraming::kNone:
      state_ = State::kDone;
      break;
    case BodyFraming::kContentLength:
      state_ = State::kLength;
      remaining_ = content_length;
      break;
    case BodyFraming::kChunked:
      state_ = State::kChunkSize;
      break;
    case BodyFraming::kUntilClose:
      state_ = State::kUntilClose;
      break;
  }
}

Step BodyDecoder::Fail(ParseError error) {
  state_ = State::kFailed;
  error_ = error;
  return Step{StepKind::kError, 0, {}};
}

Step BodyDecoder::Eof() {
  switch (state_) {
    case State::kUntilClose:
      state_ = State::kDone;
      return Step{StepKind::kMessageComplete, 0, {}};
    case State::kDone:
      return Step{StepKind::kNeedMore, 0, {}};
    case State::kFailed:
      return Step{StepKind::kError, 0, {}};
    default:
      return Fail(ParseError::kUnexpectedEof);
  }
}

Step BodyDecoder::Decode(std::string_view input) {
  switch (state_) {
    case State::kDone:
      return Step{StepKind::kMessageComplete, 0, {}};
    case State::kFailed:
      return Step{StepKind::kError, 0, {}};
    case State::kLength: {
      if (remaining_ == 0) {
        state_ = State::kDone;
        return Step{StepKind::kMessageComplete, 0, {}};
      }
      if (input.empty()) return Step{StepKind::kNeedMore, 0, {}};
      size_t n = remaining_ < input.size() ? static_cast<size_t>(remaining_) : input.size();
      remaining_ -= n;
      return Step{StepKind::kBodyData, n, input.substr(0, n)};
    }
    case State::kUntilClose:
      if (input.empty()) return Step{StepKind::kNeedMore, 0, {}};
      return Step{StepKind::kBodyData, input.size(), input};
    default:
      return DecodeChunked(input);
  }
}

Step BodyDecoder::DecodeChunked(std::string_view input) {
  size_t pos = 0;
  while (pos < input.size() || state_ == State::kTrailers) {
    if (state_ == State::kTrailers) {
      std::string_view block = input.substr(pos);
      switch (trailer_scanner_.Scan(block)) {
        case FieldBlockScanner::Result::kNeedMore:
          return Step{StepKind::kNeedMore, pos, {}};
        case FieldBlockScanner::Result::kError:
          return Fail(trailer_scanner_.error());
        case FieldBlockScanner::Result::kDone:
          trailers_.assign(trailer_scanner_.fields().begin(), trailer_scanner_.fields().end());
          // Framing and routing fields may not arrive as trailers (RFC 9110 6.5.1).
          for (const HeaderView& t : trailers_) {
            if (EqualsIgnoreCase(t.name, "content-length") ||
                EqualsIgnoreCase(t.name, "transfer-encoding") || EqualsIgnoreCase(t.name, "host")) {
              return Fail(ParseError::kBadTrailer);
            }
          }
          state_ = State::kDone;
          return Step{StepKind::kMessageComplete, pos + trailer_scanner_.block_size(), {}};
      }
    }
    if (state_ == State::kChunkData) {
      size_t avail = input.size() - pos;
      size_t n = remaining_ < avail ? static_cast<size_t>(remaining_) : avail;
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kChunkDataCr;
      return Step{StepKind::kBodyData, pos + n, input.substr(pos, n)};
    }
    char c = input[pos++];
    switch (state_) {
      case State::kChunkSize: {
        int v = chars::HexValue(c);
        if (v >= 0) {
          if (chunk_size_ > (std::numeric_limits<uint64_t>::max() >> 4)) {
            return Fail(ParseError::kChunkSizeOverflow);
          }
          chunk_size_ = (chunk_size_ << 4) | static_cast<uint64_t>(v);
          ++size_digits_;
          ++size_line_bytes_;
          break;
        }
        if (size_digits_ == 0) return Fail(ParseError::kBadChunkSize);
        if (c == ';') {
          state_ = State::kChunkExt;
        } else if (c == ' ' || c == '\t') {
          state_ = State::kChunkSizeWs;
        } else if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == '\n') {
          return Fail(ParseError::kBareLF);
        } else {
          return Fail(ParseError::kBadChunkSize);
        }
        break;
      }
      case State::kChunkSizeWs:
        if (++size_line_bytes_ > kMaxChunkSizeLine) return Fail(ParseError::kBadChunkExtension);
        if (c == ';') {
          state_ = State::kChunkExt;
        } else if (c != ' ' && c != '\t') {
          return Fail(ParseError::kBadChunkSize);
        }
        break;
      case State::kChunkExt:
        if (++size_line_bytes_ > kMaxChunkSizeLine) return Fail(ParseError::kBadChunkExtension);
        if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == '\n') {
          return Fail(ParseError::kBareLF);
        } else if (c == '\0') {
          return Fail(ParseError::kNulByte);
        } else if (!chars::FieldValue(c)) {
          return Fail(ParseError::kBadChunkExtension);
        }
        break;
      case State::kChunkSizeLf:
        if (c != '\n') return Fail(ParseError::kBareCR);
        if (chunk_size_ == 0) {
          state_ = State::kTrailers;
          trailer_scanner_.Reset();
        } else {
          state_ = State::kChunkData;
          remaining_ = chunk_size_;
        }
        break;
      case State::kChunkDataCr:
        if (c != '\r') return Fail(ParseError::kBadChunkTerminator);
        state_ = State::kChunkDataLf;
        break;
      case State::kChunkDataLf:
        if (c != '\n') return Fail(ParseError::kBadChunkTerminator);
        state_ = State::kChunkSize;
        chunk_size_ = 0;
        size_digits_ = 0;
        size_line_bytes_ = 0;
        break;
      default:
        return Fail(ParseError::kBadChunkSize);
    }
  }
  return Step{StepKind::kNeedMore, pos, {}};
}

Step MessageFramer::Fail(ParseError error) {
  state_ = State::kFailed;
  error_ = error;
  return Step{StepKind::kError, 0, {}};
}

Step MessageFramer::AfterBody(Step step) {
  if (step.kind == StepKind::kError) return Fail(body_.error());
  if (step.kind == StepKind::kMessageComplete) {
    state_ = State::kHead;
    scanner_.Reset();
  }
  return step;
}

Step MessageFramer::OnEof() {
  switch (state_) {
    case State::kHead:
      if (scanner_.started()) return Fail(ParseError::kUnexpectedEof);
      return Step{StepKind::kNeedMore, 0, {}};
    case State::kBody:
      return AfterBody(body_.Eof());
    case State::kFailed:
      break;
  }
  return Step{StepKind::kError, 0, {}};
}

void MessageFramer::StartBody(BodyFraming framing, uint64_t content_length) {
  body_.Start(framing, content_length);
  state_ = State::kBody;
}

void MessageFramer::Reset() {
  state_ = State::kHead;
  error_ = ParseError::kNone;
  scanner_.Reset();
  body_.Reset();
}

}  // namespace xgate::http
