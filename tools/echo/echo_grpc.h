// xgate-echo's gRPC mode (--grpc): the upstream conformance echo's GrpcEcho service, served
// with gRPC C++ over HTTP/2 cleartext (TLS with --tls-cert), answering each call with the
// request's metadata and authority and the pod's identity (namespace, pod).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/echo/http_io.h"

namespace xgate::echo {

struct GrpcEchoOptions {
  std::vector<std::string> listen;  // ADDR:PORT (port 0: the kernel picks)
  std::string ns;
  std::string pod;
  std::string tls_cert_pem;  // both set: TLS
  std::string tls_key_pem;
  // Told of each call as a request (POST, the method's path, HTTP/2.0, the metadata), for
  // the echo's request log (--log), which the conformance runner reads for mirrors.
  std::function<void(const Message&)> log;
  // Set (with TLS): a client must present a certificate that chains to one of these CAs.
  std::string tls_client_ca_pem = {};  // (initialized: the aggregates that leave it out)
};

class GrpcEcho {
 public:
  // Binds every address and starts serving (gRPC's own threads); the ports bound, in order.
  static absl::StatusOr<std::unique_ptr<GrpcEcho>> Start(const GrpcEchoOptions& options);
  ~GrpcEcho();
  const std::vector<int>& ports() const { return ports_; }
  // Calls answered so far (for tests: how many reached this backend, mirrors included).
  uint64_t calls() const;
  void Wait() { server_->Wait(); }

 private:
  GrpcEcho() = default;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<int> ports_;
};

}  // namespace xgate::echo
