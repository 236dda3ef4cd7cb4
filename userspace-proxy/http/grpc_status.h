// gRPC over HTTP/2 (the PROTOCOL-HTTP2 document of grpc/grpc): what the proxy needs to answer
// a gRPC request itself. A gRPC client reads the outcome from grpc-status, not from :status,
// so a local answer is "trailers-only": HTTP 200 and one HEADERS frame carrying content-type,
// grpc-status and grpc-message.
#pragma once

#include <string>
#include <string_view>

namespace xgate::http {

// Content-Type application/grpc, application/grpc+proto, application/grpc;...
bool IsGrpcContentType(std::string_view content_type);

// The gRPC status for an HTTP status the proxy answers with, as Envoy maps its local replies:
// 404 UNIMPLEMENTED (12), 503 UNAVAILABLE (14), 504 DEADLINE_EXCEEDED (4), 400 INTERNAL (13),
// 401 UNAUTHENTICATED (16), 403 PERMISSION_DENIED (7), 429 and 502 UNAVAILABLE (14). 500 is
// UNAVAILABLE too: the proxy answers 500 only for a rule whose backends are all invalid,
// which the GRPCRoute spec answers UNAVAILABLE. Anything else UNKNOWN (2).
int GrpcStatusForHttp(int http_status);

// grpc-message's percent-encoding: bytes outside 0x20..0x7E, and '%', as %XX.
std::string GrpcPercentEncode(std::string_view message);

}  // namespace xgate::http
