#include "tools/conformance/grpc_client.h"

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "tools/echo/grpcecho.grpc.pb.h"

namespace xgate::conformance {

namespace pb = gateway_api_conformance::echo_basic::grpcecho;

absl::StatusOr<GrpcAnswer> CallGrpcEcho(int fd, const std::string& authority,
                                        const std::string& method, const Pairs& metadata,
                                        absl::Duration timeout) {
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomInsecureChannelFromFd(authority, fd, args);
  std::unique_ptr<pb::GrpcEcho::Stub> stub = pb::GrpcEcho::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  for (const auto& [name, value] : metadata) ctx.AddMetadata(absl::AsciiStrToLower(name), value);
  pb::EchoRequest request;
  pb::EchoResponse response;
  grpc::Status status = method == "Echo"      ? stub->Echo(&ctx, request, &response)
                        : method == "EchoTwo" ? stub->EchoTwo(&ctx, request, &response)
                                              : stub->EchoThree(&ctx, request, &response);
  GrpcAnswer out;
  out.code = static_cast<int>(status.error_code());
  out.message = status.error_message();
  if (!status.ok()) return out;
  const pb::EchoAssertions& a = response.assertions();
  out.fully_qualified_method = a.fully_qualified_method();
  out.authority = a.authority();
  out.ns = a.context().namespace_();
  out.pod = a.context().pod();
  for (const pb::Header& h : a.headers()) out.metadata.emplace_back(h.key(), h.value());
  return out;
}

}  // namespace xgate::conformance
