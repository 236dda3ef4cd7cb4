// The Admin gRPC service (api/admin.proto) over a standalone agent's pipeline.
#pragma once

#include <mutex>

#include "agent/standalone/pipeline.h"
#include "api/admin.grpc.pb.h"

namespace xgate::admin {

class AdminService final : public api::Admin::Service {
 public:
  explicit AdminService(standalone::Pipeline& pipeline) : pipeline_(pipeline) {}

  grpc::Status GetState(grpc::ServerContext* context, const api::GetStateRequest* request,
                        api::GetStateResponse* response) override;
  grpc::Status Apply(grpc::ServerContext* context, const api::ApplyRequest* request,
                     api::ApplyResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const api::DeleteRequest* request,
                      api::DeleteResponse* response) override;
  grpc::Status GetSnapshot(grpc::ServerContext* context, const api::GetSnapshotRequest* request,
                           api::GetSnapshotResponse* response) override;

 private:
  standalone::Pipeline& pipeline_;
  std::mutex edit_mu_;  // one folder edit (and its reload) at a time
};

}  // namespace xgate::admin
