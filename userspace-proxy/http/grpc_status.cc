#include "userspace-proxy/http/grpc_status.h"

#include <cctype>

namespace xgate::http {

bool IsGrpcContentType(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (content_type.size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != kGrpc[i]) return false;
  }
  if (content_type.size() == kGrpc.size()) return true;
  char next = content_type[kGrpc.size()];
  return next == '+' || next == ';';
}

int GrpcStatusForHttp(int http_status) {
  switch (http_status) {
    case 400:
      return 13;  // INTERNAL
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
    case 500:
    case 502:
    case 503:
      return 14;  // UNAVAILABLE
    case 504:
      return 4;  // DEADLINE_EXCEEDED
    default:
      return 2;  // UNKNOWN
  }
}

std::string GrpcPercentEncode(std::string_view message) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace xgate::http
