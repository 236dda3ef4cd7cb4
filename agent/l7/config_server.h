// The agent's side of the agent -> proxy config stream: a gRPC ProxyConfig service on a
// unix socket (mode 0600). Each connected proxy gets the current L7Config at once and every
// later one as it is published: as a delta on the one before (ConfigDelta) when the proxy
// takes deltas and was sent the one before, else whole.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "agent/l7/config_delta.h"
#include "agent/l7/listen_reports.h"
#include "api/proxy.grpc.pb.h"

namespace grpc {
class Server;
}

namespace xgate::l7 {

class ConfigServer final : public api::ProxyConfig::Service {
 public:
  // Listens on `socket_path` (its folder is created; a stale socket file is replaced). The
  // proxy's listen reports go to `reports` (dropped when null).
  static absl::StatusOr<std::unique_ptr<ConfigServer>> Start(
      const std::string& socket_path, std::shared_ptr<ListenReports> reports = nullptr);
  ~ConfigServer() override;

  // Thread-safe: the config every stream sends next.
  void Publish(std::shared_ptr<const api::L7Config> config);
  void Publish(const api::L7Config& config) {
    Publish(std::make_shared<const api::L7Config>(config));
  }
  void Shutdown();
  int open_streams() const { return open_streams_; }
  const std::string& socket_path() const { return socket_path_; }

  grpc::Status Stream(grpc::ServerContext* context, const api::StreamRequest* request,
                      grpc::ServerWriter<api::L7Config>* writer) override;
  grpc::Status ReportListen(grpc::ServerContext* context, const api::ListenReport* report,
                            api::ListenReportAck* ack) override;

 private:
  ConfigServer() = default;

  std::string socket_path_;
  std::shared_ptr<ListenReports> reports_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::shared_ptr<const api::L7Config> current_;
  std::shared_ptr<const api::L7Config> delta_;  // current_ on the one before, when known
  uint64_t version_ = 0;                        // bumped per Publish
  ConfigDelta deltas_;                          // under publish_mutex_
  std::mutex publish_mutex_;
  bool shutting_down_ = false;
  std::atomic<int> open_streams_{0};
};

}  // namespace xgate::l7
