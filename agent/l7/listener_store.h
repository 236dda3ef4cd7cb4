// The agent's side of a graceful proxy restart: a unix seqpacket socket (mode 0600) where a
// stopping xgate-proxy puts its listening sockets (fds by SCM_RIGHTS) and the next one takes
// them, so the sockets, and the connections waiting in their accept queues, outlive the old
// process. The store holds them only between a put and the next take.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "api/proxy.pb.h"

namespace xgate::l7 {

class ListenerStore {
 public:
  // Called (on the store's thread) after a put, with the putting process's pid.
  using OnPut = std::function<void(pid_t)>;
  static absl::StatusOr<std::unique_ptr<ListenerStore>> Start(const std::string& path,
                                                              OnPut on_put);
  ~ListenerStore();  // closes what it holds

  // From now on puts are refused (the proxy then closes its listeners): the agent is stopping.
  void Refuse();
  // Groups held now (tests).
  int held_groups() const;

 private:
  ListenerStore() = default;
  void Run();
  void Serve(int connection);
  void ClearLocked();

  std::string path_;
  OnPut on_put_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: ends Run
  std::thread thread_;
  mutable std::mutex mutex_;
  bool refusing_ = false;
  api::ListenHandoff held_;
  std::vector<int> held_fds_;
};

}  // namespace xgate::l7
