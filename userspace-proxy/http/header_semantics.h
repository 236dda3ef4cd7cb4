// Interpretation of the framing and connection fields shared by both parsers (internal).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "userspace-proxy/http/message.h"

namespace xgate::http::internal {

// What the framing-relevant fields of a head say.
struct FieldSummary {
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  bool chunked_final = false;  // the last transfer coding is chunked
  int chunked_count = 0;       // how many times chunked appears
  bool other_coding = false;   // a transfer coding other than chunked
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
  int host_count = 0;
  std::string_view host;
  // Bit i for headers[i] (i < 64; a head of more fields sets none beyond): the hop-by-hop
  // fields (IsHopByHop, and those a Connection field names), the Content-Length fields.
  uint64_t hop_by_hop_fields = 0;
  uint64_t content_length_fields = 0;
};

// Reads Content-Length (identical repeated values accepted, RFC 9110 8.6), Transfer-Encoding,
// Connection, Upgrade, Expect and Host, and notes where the hop fields are. Returns
// kBadContentLength or kConflictingContentLength on a bad Content-Length, else kNone.
ParseError Summarize(std::span<const HeaderView> headers, FieldSummary* out);

// Calls fn(element) for each non-empty, OWS-trimmed element of a comma-separated list.
// Byte by byte: the values it reads (Connection, Content-Length, Transfer-Encoding) are short,
// shorter than a memchr call costs.
template <typename Fn>
void ForEachListElement(std::string_view value, Fn fn) {
  const char* p = value.data();
  const char* end = p + value.size();
  for (;;) {
    const char* comma = p;
    while (comma != end && *comma != ',') ++comma;
    const char* b = p;
    const char* e = comma;
    while (b != e && (*b == ' ' || *b == '\t')) ++b;
    while (e != b && (e[-1] == ' ' || e[-1] == '\t')) --e;
    if (b != e) fn(std::string_view(b, static_cast<size_t>(e - b)));
    if (comma == end) return;
    p = comma + 1;
  }
}

// "HTTP/1.1" → minor 1; kBadVersion for bad syntax, kUnsupportedVersion for major != 1.
ParseError ParseVersion(std::string_view text, int* minor);

}  // namespace xgate::http::internal
