// Interfaces vanishing, as rtnetlink reports them: a NETLINK_ROUTE socket subscribed to the
// link group, read by the pod event loop (pod_sync_loop.h) so that a pod whose interface goes
// without a CNI DEL (its namespace deleted, the veth removed) loses its map entry and link at
// once instead of at the next resync.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::pods {

class LinkWatch {
 public:
  // Opens the socket (non-blocking) in the calling thread's network namespace.
  static absl::StatusOr<LinkWatch> Open();
  LinkWatch(LinkWatch&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LinkWatch& operator=(LinkWatch&&) = delete;
  ~LinkWatch();

  // Readable when the kernel has news.
  int fd() const { return fd_; }

  struct Events {
    std::vector<std::string> deleted;  // names of the interfaces gone (RTM_DELLINK)
    // The socket's buffer overflowed (ENOBUFS): notifications were lost, resync everything.
    bool overflowed = false;
  };
  // Reads every message waiting, without blocking.
  Events Drain();

 private:
  explicit LinkWatch(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace xgate::pods
