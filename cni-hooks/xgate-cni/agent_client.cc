#include "cni-hooks/xgate-cni/agent_client.h"

#include <grpcpp/create_channel.h>

#include <chrono>

#include "api/admin.grpc.pb.h"

namespace xgate::cni {

absl::Status ReportToAgent(const std::string& admin_socket,
                           const api::ReportPodAttachmentRequest& event) {
  auto stub = api::Admin::NewStub(
      grpc::CreateChannel("unix:" + admin_socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  // A stopped agent refuses the connection at once (no wait_for_ready); a hung one costs
  // the pod's ADD at most this long.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  api::ReportPodAttachmentResponse response;
  grpc::Status s = stub->ReportPodAttachment(&context, event, &response);
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace xgate::cni
