// Serves the Admin API on a unix socket that only the agent's user can open.
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/admin/service.h"

namespace xgate::admin {

class AdminServer {
 public:
  // Creates the socket's folder if needed, replaces a stale socket, listens with mode 0600.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& socket_path,
                                                            pipeline::Pipeline& pipeline,
                                                            AdminOptions options = {});
  ~AdminServer();  // stops serving and removes the socket

 private:
  AdminServer(std::string path, pipeline::Pipeline& pipeline, AdminOptions options)
      : path_(std::move(path)), service_(pipeline, std::move(options)) {}
  std::string path_;
  AdminService service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace xgate::admin
