#include "userspace-proxy/server/stats_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "spdlog/spdlog.h"

namespace xgate::proxy {

std::string DefaultStatsSocket(const std::string& config_socket) {
  return (std::filesystem::path(config_socket).parent_path() / "proxy-stats.sock").string();
}

absl::StatusOr<std::unique_ptr<StatsServer>> StatsServer::Start(const std::string& socket_path,
                                                                Collect collect) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path(socket_path);
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  // A socket file left by a proxy that did not stop; a live proxy on the same path is
  // replaced too (the agent asks whichever proxy it started last).
  if (fs::is_socket(path, ec)) fs::remove(path, ec);
  std::unique_ptr<StatsServer> server(new StatsServer(socket_path, std::move(collect)));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server.get());
  // bind() creates the socket 0600 from the first moment; 0660 when the proxy runs as another
  // user (xgate-agent --proxy-user): its folder's group (setgid) is then the agent's.
  mode_t old_mask = umask(getuid() == 0 ? 077 : 007);
  server->server_ = builder.BuildAndStart();
  umask(old_mask);
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen on unix:" + socket_path);
  }
  spdlog::info("stats on unix:{}", socket_path);
  return server;
}

StatsServer::~StatsServer() {
  if (server_) server_->Shutdown();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

grpc::Status StatsServer::Get(grpc::ServerContext*, const api::ProxyStatsRequest*,
                              api::ProxyStats* response) {
  *response = collect_();
  return grpc::Status::OK;
}

}  // namespace xgate::proxy
