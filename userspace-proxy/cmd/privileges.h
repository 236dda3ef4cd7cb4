// What xgate-proxy keeps of root: started as root (by the agent), it gives up every
// capability but the three it needs to open listeners after any later config swap, and
// optionally root's uid too. Called once, before the proxy starts any thread (capabilities
// are per thread; threads started later inherit the reduced set).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace xgate::proxy {

// CAP_NET_BIND_SERVICE: ports below 1024. CAP_NET_ADMIN: IP_TRANSPARENT on listeners, so a
// steered connection's SYN-ACK may leave from the Gateway address. CAP_BPF: putting the steered
// listener into the pinned sockmap (xg_steer_socks).
uint64_t KeptCapabilities();

// Drops every capability but KeptCapabilities() from the effective, permitted, inheritable
// and bounding sets (the bounding set and securebits only when CAP_SETPCAP allows), and
// locks root's capability regain on exec. With `user` (a name or a numeric uid) it first
// switches to that user's uid, gid and no supplementary groups, keeping the same capabilities.
// Fails when the process has other threads, or when the user is unknown or the switch fails.
absl::Status DropPrivileges(const std::string& user);

}  // namespace xgate::proxy
