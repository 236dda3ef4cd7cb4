#include "agent/admin/server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::admin {
namespace {

// True when a process accepts connections on the unix socket at `path`.
bool SomeoneListens(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::copy(path.begin(), path.end(), addr.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool listening = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) close(fd);
  return listening;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& socket_path,
                                                                pipeline::Pipeline& pipeline,
                                                                AdminOptions options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path(socket_path);
  if (path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", path.parent_path().string(), ": ", ec.message()));
    }
    fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  }
  if (fs::is_socket(path, ec)) {
    if (SomeoneListens(socket_path)) {
      return absl::AlreadyExistsError(
          absl::StrCat(socket_path, ": another agent is serving its admin API there"));
    }
    fs::remove(path, ec);  // left by an agent that did not stop
  }

  std::unique_ptr<AdminServer> server(new AdminServer(socket_path, pipeline, std::move(options)));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&server->service_);
  // The socket is created by bind(): a umask of 077 makes it 0600 from the first moment.
  mode_t old_mask = umask(077);
  server->server_ = builder.BuildAndStart();
  umask(old_mask);
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on unix:", socket_path));
  }
  chmod(socket_path.c_str(), 0600);
  spdlog::info("admin API on unix:{}", socket_path);
  return server;
}

AdminServer::~AdminServer() {
  // A bounded shutdown: an idle client channel (xgatectl, a test) must not hold SIGTERM up.
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace xgate::admin
