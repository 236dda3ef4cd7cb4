// The Admin gRPC service (api/admin.proto) over the agent's pipeline.
#pragma once

#include <mutex>
#include <string>

#include "agent/pipeline/pipeline.h"
#include "agent/pods/locality_check.h"
#include "agent/pods/pod_attachments.h"
#include "agent/pods/pod_datapath.h"
#include "agent/sources/folder_source.h"
#include "api/admin.grpc.pb.h"

namespace xgate::admin {

struct AdminOptions {
  // The kernel fast path's pin root when the agent runs with --attach; "" without it (then
  // GetConntrack and GetCounters answer FAILED_PRECONDITION and packets are explained from
  // the snapshot alone).
  std::string l4_pin_root;
  // Where xgate-proxy serves its counters (GetCounters adds them); "" for none.
  std::string proxy_stats_socket;
  // The manifest folder Apply and Delete edit (standalone mode). nullptr when the agent reads
  // the Kubernetes API: then they answer FAILED_PRECONDITION (objects change through kubectl).
  sources::FolderSource* folder = nullptr;
  // The pod attachments xgate-cni reports; nullptr: ReportPodAttachment answers UNAVAILABLE.
  pods::PodAttachments* pods = nullptr;
  // Their interfaces as the fast path has them (with --attach); nullptr without.
  pods::PodDatapath* pod_datapath = nullptr;
  // Where the EndpointSlices and the records disagree; nullptr: none reported.
  const pods::LocalityCheck* locality = nullptr;
};

// Why Apply and Delete are refused in Kubernetes mode.
inline constexpr char kKubernetesModeEdit[] =
    "this agent reads its objects from the Kubernetes API server: change them there with "
    "kubectl apply -f FILE / kubectl delete -f FILE (xgatectl apply and delete edit a "
    "standalone agent's --manifests folder)";

class AdminService final : public api::Admin::Service {
 public:
  explicit AdminService(pipeline::Pipeline& pipeline, AdminOptions options = {})
      : pipeline_(pipeline), options_(std::move(options)) {}

  grpc::Status GetState(grpc::ServerContext* context, const api::GetStateRequest* request,
                        api::GetStateResponse* response) override;
  grpc::Status Apply(grpc::ServerContext* context, const api::ApplyRequest* request,
                     api::ApplyResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const api::DeleteRequest* request,
                      api::DeleteResponse* response) override;
  grpc::Status GetSnapshot(grpc::ServerContext* context, const api::GetSnapshotRequest* request,
                           api::GetSnapshotResponse* response) override;
  grpc::Status Explain(grpc::ServerContext* context, const api::ExplainRequest* request,
                       api::ExplainResponse* response) override;
  grpc::Status GetConntrack(grpc::ServerContext* context, const api::GetConntrackRequest* request,
                            api::GetConntrackResponse* response) override;
  grpc::Status GetCounters(grpc::ServerContext* context, const api::GetCountersRequest* request,
                           api::GetCountersResponse* response) override;
  grpc::Status ReportPodAttachment(grpc::ServerContext* context,
                                   const api::ReportPodAttachmentRequest* request,
                                   api::ReportPodAttachmentResponse* response) override;
  grpc::Status ListPodAttachments(grpc::ServerContext* context,
                                  const api::ListPodAttachmentsRequest* request,
                                  api::ListPodAttachmentsResponse* response) override;

 private:
  pipeline::Pipeline& pipeline_;
  const AdminOptions options_;
  std::mutex edit_mu_;  // one folder edit (and its reload) at a time
};

}  // namespace xgate::admin
