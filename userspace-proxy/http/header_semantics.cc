#include "userspace-proxy/http/header_semantics.h"

#include "absl/container/inlined_vector.h"

namespace xgate::http::internal {
namespace {

bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;  // 19 digits always fit in uint64
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

ParseError Summarize(std::span<const HeaderView> headers, FieldSummary* out) {
  ParseError error = ParseError::kNone;
  // Names a Connection field lists that are not hop-by-hop themselves (rare).
  absl::InlinedVector<std::string_view, 2> named;
  for (size_t i = 0; i < headers.size(); ++i) {
    const HeaderView& h = headers[i];
    std::string_view n = h.name;
    if (n.empty()) continue;
    uint64_t bit = i < 64 ? uint64_t{1} << i : 0;
    switch (n[0] | 0x20) {
      case 'c':
        if (EqualsIgnoreCase(n, "content-length")) {
          out->content_length_fields |= bit;
          bool any = false;
          ForEachListElement(h.value, [&](std::string_view e) {
            any = true;
            uint64_t v = 0;
            if (!ParseDecimal(e, &v)) {
              if (error == ParseError::kNone) error = ParseError::kBadContentLength;
              return;
            }
            if (out->has_content_length && v != out->content_length) {
              if (error == ParseError::kNone) error = ParseError::kConflictingContentLength;
              return;
            }
            out->has_content_length = true;
            out->content_length = v;
          });
          if (!any && error == ParseError::kNone) error = ParseError::kBadContentLength;
        } else if (EqualsIgnoreCase(n, "connection")) {
          out->hop_by_hop_fields |= bit;
          ForEachListElement(h.value, [&](std::string_view e) {
            if (EqualsIgnoreCase(e, "keep-alive")) {
              out->connection_keep_alive = true;
            } else if (EqualsIgnoreCase(e, "upgrade")) {
              out->connection_upgrade = true;
            } else {
              if (EqualsIgnoreCase(e, "close")) out->connection_close = true;
              if (!IsHopByHop(e)) named.push_back(e);
            }
          });
        }
        break;
      case 't':
        if (n.size() == 2 || EqualsIgnoreCase(n, "trailer")) {
          if (IsHopByHop(n)) out->hop_by_hop_fields |= bit;
        } else if (EqualsIgnoreCase(n, "transfer-encoding")) {
          out->hop_by_hop_fields |= bit;
          out->has_transfer_encoding = true;
          ForEachListElement(h.value, [&](std::string_view e) {
            // A coding may carry parameters ("gzip;q=1"); only the name matters here.
            std::string_view name = e.substr(0, e.find(';'));
            while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
              name.remove_suffix(1);
            }
            bool chunked = EqualsIgnoreCase(name, "chunked");
            out->chunked_final = chunked;
            if (chunked) {
              ++out->chunked_count;
            } else {
              out->other_coding = true;
            }
          });
        }
        break;
      case 'h':
        if (EqualsIgnoreCase(n, "host")) {
          ++out->host_count;
          out->host = h.value;
        }
        break;
      case 'u':
        if (EqualsIgnoreCase(n, "upgrade")) {
          out->hop_by_hop_fields |= bit;
          out->has_upgrade = true;
        }
        break;
      case 'k':
      case 'p':
        if (IsHopByHop(n)) out->hop_by_hop_fields |= bit;
        break;
      case 'e':
        if (EqualsIgnoreCase(n, "expect") && EqualsIgnoreCase(h.value, "100-continue")) {
          out->expect_continue = true;
        }
        break;
      default:
        break;
    }
  }
  if (!named.empty()) {
    for (size_t i = 0; i < headers.size() && i < 64; ++i) {
      for (std::string_view name : named) {
        if (EqualsIgnoreCase(headers[i].name, name)) out->hop_by_hop_fields |= uint64_t{1} << i;
      }
    }
  }
  return error;
}

ParseError ParseVersion(std::string_view text, int* minor) {
  if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || text[6] != '.') {
    return ParseError::kBadVersion;
  }
  char major = text[5], min = text[7];
  if (major < '0' || major > '9' || min < '0' || min > '9') return ParseError::kBadVersion;
  if (major != '1') return ParseError::kUnsupportedVersion;
  *minor = min - '0';
  return ParseError::kNone;
}

}  // namespace xgate::http::internal
