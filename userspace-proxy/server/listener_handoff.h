// The proxy's side of a graceful restart: on SIGTERM it puts its listening sockets in the
// agent's listener store (api/fd_passing.h) before it drains; at start it takes what the
// store holds, so its predecessor's sockets, and the connections queued on them, carry on.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "userspace-proxy/server/listen_sockets.h"

namespace xgate::proxy {

// What the store holds (nothing when no agent serves `store_path`, or nothing was put).
absl::StatusOr<std::vector<HandedGroup>> TakeListeners(const std::string& store_path);
// Hands `groups` to the store; OK once the store has them.
absl::Status PutListeners(const std::string& store_path, const std::vector<HandedGroup>& groups);

}  // namespace xgate::proxy
