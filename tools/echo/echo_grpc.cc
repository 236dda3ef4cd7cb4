#include "tools/echo/echo_grpc.h"

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/echo/grpcecho.grpc.pb.h"

namespace xgate::echo {
namespace {

namespace pb = gateway_api_conformance::echo_basic::grpcecho;

class Service final : public pb::GrpcEcho::Service {
 public:
  Service(std::string ns, std::string pod, std::function<void(const Message&)> log)
      : ns_(std::move(ns)), pod_(std::move(pod)), log_(std::move(log)) {}
  uint64_t calls() const { return calls_.load(); }

  grpc::Status Echo(grpc::ServerContext* ctx, const pb::EchoRequest*,
                    pb::EchoResponse* out) override {
    return Answer(ctx, "Echo", out);
  }
  grpc::Status EchoTwo(grpc::ServerContext* ctx, const pb::EchoRequest*,
                       pb::EchoResponse* out) override {
    return Answer(ctx, "EchoTwo", out);
  }
  grpc::Status EchoThree(grpc::ServerContext* ctx, const pb::EchoRequest*,
                         pb::EchoResponse* out) override {
    return Answer(ctx, "EchoThree", out);
  }

 private:
  grpc::Status Answer(grpc::ServerContext* ctx, const char* method, pb::EchoResponse* out) {
    pb::EchoAssertions* a = out->mutable_assertions();
    for (const auto& [key, value] : ctx->client_metadata()) {
      pb::Header* h = a->add_headers();
      h->set_key(absl::AsciiStrToLower(std::string(key.data(), key.size())));
      h->set_value(std::string(value.data(), value.size()));
    }
    grpc::string_ref authority = ctx->ExperimentalGetAuthority();
    a->set_authority(std::string(authority.data(), authority.size()));
    a->set_fully_qualified_method(
        absl::StrCat("/", pb::GrpcEcho::service_full_name(), "/", method));
    a->mutable_context()->set_namespace_(ns_);
    a->mutable_context()->set_pod(pod_);
    calls_.fetch_add(1);
    if (log_) {
      Message request{"POST", a->fully_qualified_method(), "HTTP/2.0", {}, ""};
      request.headers.push_back({"Host", a->authority()});
      for (const pb::Header& h : a->headers()) request.headers.push_back({h.key(), h.value()});
      log_(request);
    }
    return grpc::Status::OK;
  }

  std::string ns_;
  std::string pod_;
  std::function<void(const Message&)> log_;
  std::atomic<uint64_t> calls_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcEcho>> GrpcEcho::Start(const GrpcEchoOptions& options) {
  std::unique_ptr<GrpcEcho> out(new GrpcEcho());
  out->service_ = std::make_unique<Service>(options.ns, options.pod, options.log);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    if (!options.tls_client_ca_pem.empty()) {
      ssl.pem_root_certs = options.tls_client_ca_pem;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  out->ports_.assign(options.listen.size(), 0);
  for (size_t i = 0; i < options.listen.size(); ++i) {
    builder.AddListeningPort(options.listen[i], credentials, &out->ports_[i]);
  }
  builder.RegisterService(out->service_.get());
  out->server_ = builder.BuildAndStart();
  if (!out->server_) return absl::UnavailableError("cannot start the gRPC echo");
  for (size_t i = 0; i < out->ports_.size(); ++i) {
    if (out->ports_[i] == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen[i]));
    }
  }
  return out;
}

uint64_t GrpcEcho::calls() const { return static_cast<const Service&>(*service_).calls(); }

GrpcEcho::~GrpcEcho() {
  if (server_) server_->Shutdown();
}

}  // namespace xgate::echo
