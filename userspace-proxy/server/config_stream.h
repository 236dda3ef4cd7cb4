// The proxy's side of the agent -> proxy config stream: connects to the agent's unix
// socket, hands every L7Config received (whole or a delta) to a callback, and reconnects with
// backoff when the stream ends (the proxy keeps serving its last config meanwhile). A delta
// the callback cannot take (FailedPrecondition: not on the config it serves) ends the stream
// and a new one starts with the whole config. Listen results go the other
// way, as ReportListen calls: the latest is sent when it changes and after each reconnect.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "api/config.pb.h"
#include "api/proxy.pb.h"

namespace grpc {
class ClientContext;
}

namespace xgate::proxy {

class ConfigStreamClient {
 public:
  using OnConfig = std::function<absl::Status(api::L7Config)>;

  ConfigStreamClient(std::string socket_path, OnConfig on_config);
  ~ConfigStreamClient();  // stops

  void Start();
  void Stop();
  // Thread-safe: sends `report` to the agent (without waiting), and again after a reconnect.
  void Report(const api::ListenReport& report);
  // Generation of the last config received (0 before the first).
  uint64_t last_generation() const { return last_generation_; }

 private:
  void Run();
  void ReportLoop();
  bool Send(const api::ListenReport& report);

  std::string socket_path_;
  OnConfig on_config_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> last_generation_{0};
  std::mutex mutex_;  // guards context_ (cancelled from Stop)
  grpc::ClientContext* context_ = nullptr;
  std::thread thread_;

  std::mutex report_mutex_;
  std::condition_variable report_changed_;
  api::ListenReport report_;
  uint64_t report_version_ = 0;  // bumped per Report
  uint64_t connects_ = 0;        // streams connected so far
  std::thread report_thread_;
};

}  // namespace xgate::proxy
