// libFuzzer target for the proxy's HTTP/2 frame handling: the input is what a client sends
// after the connection preface (frames), given to the proxy's own H2Connection (its nghttp2
// server session, callbacks, streams and exchanges) through one end of an AF_UNIX socketpair
// (no network). The worker has a config with no Gateway ports, so every request that gets
// through the frame handling is answered 404 by the exchange, and its response goes out
// through the same session. Checked: no crash (ASan), no leak, and once the client has sent
// everything and hung up, the connection closes.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "spdlog/spdlog.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/h2_connection.h"
#include "userspace-proxy/server/net.h"
#include "userspace-proxy/server/server.h"
#include "userspace-proxy/server/worker.h"

namespace {

using namespace xgate::proxy;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr int kRounds = 16;  // event loop rounds before the harness gives up on a close

void Check(bool ok) {
  if (!ok) std::abort();
}

// One worker on the harness's thread, serving an applied config with no ports.
Worker& TheWorker() {
  static Worker* worker = [] {
    spdlog::set_level(spdlog::level::off);
    AccessLog::Disable();
    ServerOptions options;
    options.workers = 1;
    auto* server = new Server(options);  // never started: no threads, no listeners
    Check(server->Apply(xgate::api::L7Config()).ok());
    auto* w = new Worker(*server, 0);
    w->Notify();  // picks up the config on the next round
    w->loop().RunOnce(std::chrono::milliseconds(0));
    Check(w->config() != nullptr);
    return w;
  }();
  return *worker;
}

void Drain(int fd) {
  char sink[16 * 1024];
  while (read(fd, sink, sizeof(sink)) > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // stays within the socket buffer
  Worker& worker = TheWorker();
  int fds[2];
  Check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  std::string input(kPreface);
  input.append(reinterpret_cast<const char*>(data), size);
  Check(write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));

  SocketAddress local = *MakeAddress("198.18.0.1", 443);
  SocketAddress peer = *MakeAddress("198.18.0.2", 40000);
  auto* connection = worker.Adopt(std::make_unique<H2Connection>(
      worker, std::make_unique<Transport>(fds[0]), local, peer, "fuzz.example"));
  connection->Start();
  // Deferred sends and stream ends run; then the client hangs up and the proxy must close.
  for (int i = 0; i < 2; ++i) {
    worker.loop().RunOnce(std::chrono::milliseconds(0));
    Drain(fds[1]);
  }
  shutdown(fds[1], SHUT_WR);
  for (int i = 0; i < kRounds && worker.Owns(connection); ++i) {
    worker.loop().RunOnce(std::chrono::milliseconds(0));
    Drain(fds[1]);
  }
  Check(!worker.Owns(connection));
  worker.loop().RunOnce(std::chrono::milliseconds(0));  // destroys it
  close(fds[1]);
  return 0;
}
