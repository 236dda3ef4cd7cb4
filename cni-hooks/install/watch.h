// Keeps xgate-cni installed on a node whose primary CNI rewrites its configuration (Calico,
// Cilium and Flannel write theirs again when they restart, dropping other plugins' entries).
#pragma once

#include <chrono>

#include "absl/status/status.h"
#include "cni-hooks/install/installer.h"

namespace xgate::cni_install {

struct WatchOptions {
  // Return after the first successful install instead of watching on.
  bool once = false;
  // With `once`: how long to wait for the node's configuration to appear (0: not at all).
  std::chrono::milliseconds wait{0};
  // Readable (an eventfd or signalfd) when the watch should end; -1 for never.
  int stop_fd = -1;
};

// Installs, then installs again whenever the conf folder changes (inotify), until stop_fd is
// readable. While the folder holds no configuration it waits for one; a malformed one is
// logged and waited out. With `once`, returns the first install's outcome.
absl::Status Watch(const Options& options, const WatchOptions& watch);

}  // namespace xgate::cni_install
