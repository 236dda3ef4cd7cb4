// X6's client (tests/conformance/FORMAT.md): one unary call of the conformance GrpcEcho
// service with gRPC C++, over a TCP connection the runner made (so it lives in the client
// network namespace): HTTP/2 with prior knowledge, or over TLS (ALPN h2) for an HTTPS
// listener.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/conformance/case.h"
#include "tools/conformance/certs.h"

namespace xgate::conformance {

struct GrpcAnswer {
  int code = 0;  // grpc::StatusCode
  std::string message;
  // From the echo's EchoResponse (code 0 only).
  std::string fully_qualified_method;
  std::string authority;
  std::string ns;
  std::string pod;
  Pairs metadata;  // what the backend saw
};

// The call over TLS, with gRPC C++'s SSL credentials: only `ca_pem` is trusted and the
// certificate is checked for `server_name`, which is also the SNI (none for an IP address,
// as the runner's HTTPS requests). `client_certificate`, when set, is presented in the
// handshake (X11's `clientCertificate`).
struct GrpcTls {
  std::string ca_pem;
  std::string server_name;
  const IssuedCert* client_certificate = nullptr;
};

// Calls `method` (Echo, EchoTwo, EchoThree) on the connected socket `fd` (taken over),
// with `authority` as :authority and `metadata` as the call's metadata; over TLS when `tls`
// is given. A TLS handshake that fails is a call that fails (UNAVAILABLE), not an error.
absl::StatusOr<GrpcAnswer> CallGrpcEcho(int fd, const std::string& authority,
                                        const std::string& method, const Pairs& metadata,
                                        absl::Duration timeout, const GrpcTls* tls = nullptr);

}  // namespace xgate::conformance
