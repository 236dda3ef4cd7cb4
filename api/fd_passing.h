// The listener store's wire format: one unix seqpacket message carries an operation byte, a
// serialized ListenHandoff and the sockets themselves (SCM_RIGHTS). Shared by the agent (the
// store) and xgate-proxy (putting its listeners on SIGTERM, taking them at start).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::fdpass {

inline constexpr char kPut = 'P';   // proxy -> store: here are my listeners
inline constexpr char kTake = 'T';  // proxy -> store: give me what you hold
inline constexpr char kAck = 'K';   // store -> proxy: put stored / take answered
// SCM_MAX_FD: the kernel's limit of fds in one message.
inline constexpr size_t kMaxFds = 253;

// The store's socket beside the agent's config socket (as proxy-stats.sock is).
std::string ListenerStorePath(const std::string& config_socket);

struct Message {
  std::string bytes;
  std::vector<int> fds;  // owned by the receiver (close-on-exec)
};

// Sends `bytes` with `fds` attached (the sender keeps its own copies).
absl::Status Send(int socket, std::string_view bytes, const std::vector<int>& fds);
// Receives one message (at most 64 KiB and kMaxFds fds); an orderly close is an error.
absl::StatusOr<Message> Receive(int socket);
// A connected seqpacket socket to `path` whose reads and writes give up after `timeout_ms`.
absl::StatusOr<int> Connect(const std::string& path, int timeout_ms);

}  // namespace xgate::fdpass
