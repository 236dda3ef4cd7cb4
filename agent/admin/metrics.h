// The agent's Prometheus endpoint (--metrics-addr): GET /metrics in the text format.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/standalone/pipeline.h"

namespace xgate::admin {

// The agent's own metrics: snapshot generation, reloads by result, objects by kind,
// refused documents, conditions by type and status, data plane sizes.
std::string RenderAgentMetrics(const standalone::Pipeline& pipeline);

class MetricsServer {
 public:
  // Listens on "HOST:PORT" ("[v6]:PORT" for IPv6; port 0 picks a free one) and answers
  // each request with `render()`, one connection at a time (a scrape is small and rare).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                              std::function<std::string()> render);
  ~MetricsServer();  // stops serving
  int port() const { return port_; }

 private:
  MetricsServer(int listen_fd, int stop_fd, int port, std::function<std::string()> render)
      : listen_fd_(listen_fd), stop_fd_(stop_fd), port_(port), render_(std::move(render)) {}
  void Serve();
  void Answer(int fd);

  int listen_fd_;
  int stop_fd_;
  int port_;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace xgate::admin
