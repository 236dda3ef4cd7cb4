#include "agent/l7/proxy_stats_client.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "api/proxy.grpc.pb.h"

namespace xgate::l7 {

std::string ProxyStatsSocketPath(const std::string& config_socket) {
  return (std::filesystem::path(config_socket).parent_path() / "proxy-stats.sock").string();
}

absl::StatusOr<api::ProxyStats> FetchProxyStats(const std::string& socket_path,
                                                std::chrono::milliseconds timeout) {
  std::error_code ec;
  if (!std::filesystem::is_socket(socket_path, ec)) {
    return absl::UnavailableError(socket_path + ": no proxy serves its counters there");
  }
  auto channel = grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials());
  auto stub = api::ProxyStatsService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  api::ProxyStats stats;
  grpc::Status status = stub->Get(&context, api::ProxyStatsRequest(), &stats);
  if (!status.ok()) {
    std::string why = socket_path + ": " + status.error_message();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return absl::DeadlineExceededError(why);
    }
    return absl::UnavailableError(why);
  }
  return stats;
}

}  // namespace xgate::l7
