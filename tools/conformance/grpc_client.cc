#include "tools/conformance/grpc_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/echo/grpcecho.grpc.pb.h"

namespace xgate::conformance {

namespace pb = gateway_api_conformance::echo_basic::grpcecho;

namespace {

// gRPC C++ makes a TLS channel only over a connection it opens itself (a channel on a given
// socket is insecure only), and the runner's connection lives in the client namespace. So
// the channel connects to a loopback listener of the runner's own namespace whose one
// connection is spliced, byte for byte, to that socket: TLS runs end to end between gRPC and
// the gateway.
class Splice {
 public:
  ~Splice() {
    if (stop_[1] >= 0) (void)!write(stop_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    for (int fd : {listen_fd_, fd_, stop_[0], stop_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  // Takes `fd` over.
  static absl::StatusOr<std::unique_ptr<Splice>> Start(int fd) {
    auto s = std::unique_ptr<Splice>(new Splice(fd));
    s->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (s->listen_fd_ < 0 || bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        listen(s->listen_fd_, 1) != 0 ||
        getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0 ||
        pipe2(s->stop_, O_CLOEXEC) != 0) {
      return absl::InternalError(
          absl::StrCat("gRPC over TLS: loopback listener: ", std::strerror(errno)));
    }
    s->port_ = ntohs(sa.sin_port);
    s->thread_ = std::thread([raw = s.get()] { raw->Run(); });
    return s;
  }

  int port() const { return port_; }

 private:
  explicit Splice(int fd) : fd_(fd) {}

  // Accepts one connection, then copies both ways until both sides have ended (or stop).
  void Run() {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    if (poll(p, 2, -1) <= 0 || p[1].revents != 0) return;
    int local = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (local < 0) return;
    int ends[2] = {local, fd_};
    bool open[2] = {true, true};  // still reading from ends[i]
    char buffer[16384];
    while (open[0] || open[1]) {
      pollfd q[3] = {{ends[0], static_cast<short>(open[0] ? POLLIN : 0), 0},
                     {ends[1], static_cast<short>(open[1] ? POLLIN : 0), 0},
                     {stop_[0], POLLIN, 0}};
      if (poll(q, 3, -1) <= 0 || q[2].revents != 0) break;
      for (int i = 0; i < 2; ++i) {
        if (!open[i] || q[i].revents == 0) continue;
        ssize_t n = read(ends[i], buffer, sizeof(buffer));
        if (n <= 0) {
          open[i] = false;
          shutdown(ends[1 - i], SHUT_WR);
          continue;
        }
        for (ssize_t done = 0; done < n;) {
          ssize_t w = send(ends[1 - i], buffer + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
          if (w <= 0) {
            open[0] = open[1] = false;
            break;
          }
          done += w;
        }
      }
    }
    close(local);
  }

  int fd_ = -1;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<GrpcAnswer> CallGrpcEcho(int fd, const std::string& authority,
                                        const std::string& method, const Pairs& metadata,
                                        absl::Duration timeout, const GrpcTls* tls) {
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
  std::unique_ptr<Splice> splice;  // goes after the channel
  std::shared_ptr<grpc::Channel> channel;
  if (tls != nullptr) {
    absl::StatusOr<std::unique_ptr<Splice>> started = Splice::Start(fd);
    if (!started.ok()) return started.status();
    splice = std::move(*started);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls->ca_pem;
    if (tls->client_certificate != nullptr) {
      ssl.pem_cert_chain = tls->client_certificate->chain_pem;
      ssl.pem_private_key = tls->client_certificate->key_pem;
    }
    args.SetSslTargetNameOverride(tls->server_name);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);  // one connection: no second attempt to make
    channel = grpc::CreateCustomChannel(absl::StrCat("ipv4:127.0.0.1:", splice->port()),
                                        grpc::SslCredentials(ssl), args);
  } else {
    channel = grpc::CreateCustomInsecureChannelFromFd(authority, fd, args);
  }
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
