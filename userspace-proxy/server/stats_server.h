// Serves the proxy's counters (api/proxy.proto ProxyStatsService) on a unix socket that only
// the proxy's user can open; the agent asks it at scrape time. Off the request path: the
// answer is summed from the workers' counters by a gRPC thread.
#pragma once

#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/proxy.grpc.pb.h"

namespace xgate::proxy {

class StatsServer final : public api::ProxyStatsService::Service {
 public:
  using Collect = std::function<api::ProxyStats()>;
  // Creates the socket's folder if needed and replaces a stale socket file.
  static absl::StatusOr<std::unique_ptr<StatsServer>> Start(const std::string& socket_path,
                                                            Collect collect);
  ~StatsServer() override;  // stops serving and removes the socket

  grpc::Status Get(grpc::ServerContext* context, const api::ProxyStatsRequest* request,
                   api::ProxyStats* response) override;

 private:
  StatsServer(std::string path, Collect collect)
      : path_(std::move(path)), collect_(std::move(collect)) {}
  std::string path_;
  Collect collect_;
  std::unique_ptr<grpc::Server> server_;
};

// Where the proxy serves its counters by default: proxy-stats.sock beside the config
// stream's socket.
std::string DefaultStatsSocket(const std::string& config_socket);

}  // namespace xgate::proxy
