// The proxy's side of the agent -> proxy config stream: connects to the agent's unix
// socket, hands every L7Config received to a callback, and reconnects with backoff when the
// stream ends (the proxy keeps serving its last config meanwhile).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/config.pb.h"

namespace grpc {
class ClientContext;
}

namespace xgate::proxy {

class ConfigStreamClient {
 public:
  using OnConfig = std::function<void(const api::L7Config&)>;

  ConfigStreamClient(std::string socket_path, OnConfig on_config);
  ~ConfigStreamClient();  // stops

  void Start();
  void Stop();
  // Generation of the last config received (0 before the first).
  uint64_t last_generation() const { return last_generation_; }

 private:
  void Run();

  std::string socket_path_;
  OnConfig on_config_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> last_generation_{0};
  std::mutex mutex_;  // guards context_ (cancelled from Stop)
  grpc::ClientContext* context_ = nullptr;
  std::thread thread_;
};

}  // namespace xgate::proxy
