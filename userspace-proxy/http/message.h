// Owned HTTP message heads (what filters edit and the serializer writes) and the
// small vocabulary shared by the request and response parsers.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"

namespace xgate::http {

namespace internal {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Whether the 8 bytes of `a` and `b` are equal apart from the case of ASCII letters.
inline bool Equal8IgnoreCase(uint64_t a, uint64_t b) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  uint64_t diff = a ^ b;
  if (diff == 0) return true;
  if ((diff & ~(kOnes * 0x20)) != 0) return false;  // a byte differs by more than case
  // Bytes that differ (by 0x20) must be letters: a | 0x20 in 'a'..'z', and ASCII.
  uint64_t lower = (a | kOnes * 0x20) & (kOnes * 0x7f);
  uint64_t letter =
      (lower + kOnes * (0x80 - 'a')) & ~(lower + kOnes * (0x80 - 'z' - 1)) & ~a & (kOnes * 0x80);
  return ((diff << 2) & ~letter) == 0;  // 0x20 << 2: each differing byte's top bit
}

}  // namespace internal

// ASCII case-insensitive equality, for header names and hostnames. Inline: header lookups
// call it for every field, and most calls end at the size check. Eight bytes at a time.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (!internal::Equal8IgnoreCase(internal::Load64(x + i), internal::Load64(y + i))) {
        return false;
      }
    }
    return internal::Equal8IgnoreCase(internal::Load64(x + n - 8), internal::Load64(y + n - 8));
  }
  if (n >= 4) {  // the first and the last four bytes (overlapping when n < 8)
    uint32_t x0, x1, y0, y1;
    std::memcpy(&x0, x, 4);
    std::memcpy(&x1, x + n - 4, 4);
    std::memcpy(&y0, y, 4);
    std::memcpy(&y1, y + n - 4, 4);
    return internal::Equal8IgnoreCase(x0 | uint64_t{x1} << 32, y0 | uint64_t{y1} << 32);
  }
  for (size_t i = 0; i < n; ++i) {
    char c = x[i], d = y[i];
    if (c == d) continue;
    char lower = static_cast<char>(c | 0x20);  // equal apart from case: both the same letter
    if (lower != static_cast<char>(d | 0x20) || lower < 'a' || lower > 'z') return false;
  }
  return true;
}

// True for the hop-by-hop fields of RFC 9110 7.6.1 (Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade).
bool IsHopByHop(std::string_view name);
// A hop-by-hop field or Content-Length: what a proxy drops or rewrites for the next hop.
bool IsHopField(std::string_view name);

// One header field line, as a view into the connection buffer (parser output).
struct HeaderView {
  std::string_view name;
  std::string_view value;  // leading and trailing whitespace already trimmed
};

// One owned header field line.
struct Header {
  std::string name;
  std::string value;
};

// Ordered header fields with case-insensitive name lookups. Order and duplicates are kept,
// because they are forwarded as received.
//
// Fields are views into storage the map owns: CopyFrom() copies a parsed head's field block
// once and points into that copy, so fields no filter touches are never copied one by one;
// only fields set or added later are copied, each into the same bump arena. A field's bytes
// stay in place until the map is destroyed (Remove/Set only drop the views).
//
// The map knows when it holds no hop field (IsHopField): the parser says so of the fields it
// copies, and Set/Add note a hop field's name. Then StripHopByHop, Remove and Set of such a
// name need no pass over the fields.
class HeaderMap {
 public:
  // Inline room for a typical head's fields: no allocation for the list itself.
  using Fields = absl::InlinedVector<HeaderView, 12>;

  struct CopyOptions {
    std::string_view skip;     // fields with this name are not copied (e.g. "host")
    uint64_t skip_fields = 0;  // nor views[i] whose bit i is set (i < 64)
    // False when the caller knows that no copied field is a hop field.
    bool hop_fields = true;
    size_t extra = 0;  // arena room reserved for fields added later
    // The views inside `block` are kept as they are, pointing into the caller's bytes (which
    // must then outlive the map and stay in place): no copy at all.
    bool borrow = false;
  };

  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  HeaderMap(HeaderMap&& other) noexcept;
  HeaderMap& operator=(HeaderMap&& other) noexcept;

  // Replaces the fields by copies of `views`, but those `options` skip. `block` (may be
  // empty) holds the received field lines the views point into: it is copied once and those
  // views point into the copy (or, with `borrow`, into `block` itself); others are copied one
  // by one.
  void CopyFrom(std::span<const HeaderView> views, std::string_view block,
                const CopyOptions& options);
  void CopyFrom(std::span<const HeaderView> views, std::string_view block) {
    CopyFrom(views, block, CopyOptions());
  }

  // First value with this name, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value with this name joined with ", " (RFC 9110 5.3), or nullopt if absent.
  std::optional<std::string> GetJoined(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Replaces every field with this name by one field (added at the end when absent,
  // else in the place of the first one).
  void Set(std::string_view name, std::string_view value);
  // Appends a field line, keeping the existing ones.
  void Add(std::string_view name, std::string_view value);
  // Removes every field with this name; returns how many were removed.
  size_t Remove(std::string_view name);

  const Fields& fields() const { return fields_; }
  // For erasing or reordering; views put in must point into this map's storage, and not be
  // hop fields unless may_hold_hop_fields().
  Fields& mutable_fields() { return fields_; }
  // False when no field is a hop field (IsHopField); true when one may be.
  bool may_hold_hop_fields() const { return hop_fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

  // The field lines CopyFrom() copied, as received ("" when none): a field whose name and
  // value lie in here is unmodified, and adjacent such fields can be written as one span.
  std::string_view received() const { return received_; }

 private:
  // A copy of `bytes` in the arena.
  std::string_view Store(std::string_view bytes);
  char* Allocate(size_t n);

  Fields fields_;
  std::unique_ptr<char[]> chunk_;                    // the arena's current chunk
  std::vector<std::unique_ptr<char[]>> old_chunks_;  // earlier chunks, still referenced
  char* cursor_ = nullptr;
  size_t left_ = 0;
  std::string_view received_;
  bool hop_fields_ = false;
};

// The bytes from a parser's first field name to its last field's end: the block all of
// its views point into (views in received order, from one input). "" when none.
std::string_view ParsedFieldBlock(std::span<const HeaderView> views);

// A request head as forwarded upstream. `host` is the Host header (or the authority of an
// absolute-form target) kept apart from `headers`, which never hold a Host field.
struct RequestHead {
  std::string method;
  std::string path;       // origin-form target: path plus "?query" when there is one
  std::string host;       // as received, port included when the client sent one
  int version_minor = 1;  // HTTP/1.<minor>
  HeaderMap headers;

  // The path without the query, and the query without '?' ("" when none).
  std::string_view PathOnly() const;
  std::string_view Query() const;
  // `host` without a trailing ":port" (IPv6 literals keep their brackets).
  std::string_view HostWithoutPort() const;
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  int version_minor = 1;
  HeaderMap headers;
};

// Why a message was refused. Stable names for metrics: see ParseErrorName().
enum class ParseError : uint8_t {
  kNone = 0,
  kBadMethod,                          // 400: method is not a token
  kBadTarget,                          // 400: request-target syntax
  kBadVersion,                         // 400: not "HTTP/d.d"
  kUnsupportedVersion,                 // 505: HTTP/2.0 and up, HTTP/0.x
  kRequestLineTooLong,                 // 414
  kHeadTooLarge,                       // 431: start line plus fields beyond Limits::max_head_bytes
  kTooManyHeaders,                     // 431
  kBadHeaderName,                      // 400: empty or non-token field name
  kWhitespaceBeforeColon,              // 400 (RFC 9112 5.1)
  kObsFold,                            // 400 (RFC 9112 5.2)
  kBareCR,                             // 400: CR not followed by LF
  kBareLF,                             // 400: LF without CR before it
  kNulByte,                            // 400
  kBadHeaderValue,                     // 400: control characters in a field value
  kMissingHost,                        // 400: HTTP/1.1 request without Host (RFC 9112 3.2)
  kDuplicateHost,                      // 400
  kBadHost,                            // 400
  kBadContentLength,                   // 400: not digits, or overflows
  kConflictingContentLength,           // 400: several differing values
  kContentLengthWithTransferEncoding,  // 400: both present (smuggling guard)
  kTransferEncodingNotChunked,         // 400: chunked missing, not final, or applied twice
  kUnsupportedTransferEncoding,        // 501: a coding other than chunked
  kTransferEncodingInHttp10,           // 400 (RFC 9112 6.1)
  kBadChunkSize,                       // 400: empty or non-hex chunk size
  kChunkSizeOverflow,                  // 400
  kBadChunkExtension,                  // 400
  kBadChunkTerminator,                 // 400: chunk data not followed by CRLF
  kTrailersTooLarge,                   // 431
  kBadTrailer,                         // 400
  kBadStatusLine,                      // response side: status-line syntax
  kUnsupportedMethod,                  // 501: CONNECT (not proxied by this engine)
  kUnexpectedEof,                      // the peer closed mid-message
};

// A lower_snake_case name for metrics and logs, e.g. "obs_fold".
std::string_view ParseErrorName(ParseError error);
// The status to answer with: 400, 414, 431, 501 or 505 (0 for kNone).
int ParseErrorStatus(ParseError error);

// Bounds applied while parsing a head. Defaults are what the proxy uses.
struct Limits {
  size_t max_request_line = 8 * 1024;    // 414 beyond (status line for responses)
  size_t max_head_bytes = 64 * 1024;     // 431 beyond, start line included
  size_t max_headers = 100;              // 431 beyond
  size_t max_trailer_bytes = 16 * 1024;  // 431 beyond
  size_t max_trailers = 32;              // 431 beyond
};

// How the body of a message is delimited.
enum class BodyFraming : uint8_t {
  kNone,           // no body
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding
  kUntilClose,     // responses only: the body ends when the connection closes
};

// What one parser step produced.
enum class StepKind : uint8_t {
  kNeedMore,         // give more bytes: input exhausted without a complete item (consumed
                     // may still be > 0: chunk framing the parser has taken in)
  kHeadComplete,     // head() is valid (views into the input passed to this call)
  kBodyData,         // Step::body holds body bytes (a view into the input); call again
                     // even without new bytes: the next step may be kMessageComplete
  kMessageComplete,  // message finished; trailers() valid if chunked. Parser is ready for
                     // the next message (pipelining): call again with the remaining bytes.
  kError,            // error() says why; the connection must be closed after answering
};

struct Step {
  StepKind kind = StepKind::kNeedMore;
  // Bytes at the start of the input that this step used: the caller drops them before the
  // next call (or passes input.substr(consumed)). While a head or a trailer section is
  // incomplete this is 0 and the caller must pass the same bytes again plus the new ones;
  // the parser remembers how far it scanned, so nothing is scanned twice.
  size_t consumed = 0;
  std::string_view body;  // kBodyData only
};

}  // namespace xgate::http
