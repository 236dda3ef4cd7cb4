// The proxy's listening sockets, opened only for what the config asks: address:port for each
// address of a Port (never the wildcard, unless a Port names no address), and for steered
// addresses one private listener per family (127.0.0.1 / ::1, a port the kernel picks,
// transparent) put in the node's steer sockmap, so a steered Gateway address takes no port of
// the node. Each socket is one SO_REUSEPORT group with a socket per worker. A pair that
// cannot be opened is retried with a bounded backoff, and every result is reported.
//
// Not thread-safe: the owner (Server) serializes calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "api/proxy.pb.h"

namespace xgate::proxy {

// One listening socket per worker, all bound to the same address and port; closed when the
// last holder (the ListenSockets, a worker) lets go.
struct ListenGroup {
  std::string name;  // "198.18.0.1:80", "*:80", "steer ipv4 127.0.0.1:40123"
  std::vector<int> fds;
  ~ListenGroup();
};

// What the workers listen on: swapped whole; worker i takes fds[i] of each group.
struct ListenSet {
  std::vector<std::shared_ptr<ListenGroup>> groups;
};

struct ListenBackoff {
  std::chrono::milliseconds first{250};
  std::chrono::milliseconds max{8000};
};

// A listening group handed from one proxy to the next (graceful restart): the sockets stay
// open, so connections waiting in their accept queues are served by the next proxy.
struct HandedGroup {
  bool steered = false;
  std::string address;  // or the family of a steered listener ("ipv4", "ipv6")
  uint16_t port = 0;
  std::shared_ptr<ListenGroup> group;
};

class ListenSockets {
 public:
  using Clock = std::chrono::steady_clock;
  ListenSockets(int workers, ListenBackoff backoff = {});

  // Sockets of the previous proxy, used instead of opening new ones for the groups the next
  // Sync wants; that Sync closes the rest.
  void Inherit(std::vector<HandedGroup> groups);
  // Lets go of every group (the caller hands them on) and stops retrying: set() is empty.
  std::vector<HandedGroup> Release();

  // Opens what the config newly asks for and drops what it no longer does; sockets kept
  // across configs are not reopened.
  void Sync(const api::L7Config& config);
  // Tries again what failed and is due at `now`; true when any result changed.
  bool Retry(Clock::time_point now);
  // When the next retry is due (time_point::max() when nothing failed).
  Clock::time_point NextRetry() const;

  std::shared_ptr<const ListenSet> set() const { return set_; }
  api::ListenReport Report() const;

 private:
  // What to open: the private listener of a family (steered), or address:port.
  using GroupKey = std::tuple<bool /*steered*/, std::string /*address or family*/, uint16_t>;
  struct Target {
    bool steered = false;
    GroupKey group;
  };
  struct Result {
    std::string error;  // "" when open
    uint64_t failures = 0;
    std::chrono::milliseconds backoff{0};
    Clock::time_point next_try{};
  };

  absl::StatusOr<std::shared_ptr<ListenGroup>> Open(const GroupKey& key);
  // Puts the private listeners in the steer sockmap (`map_path_`).
  absl::Status Register(const GroupKey& key, const ListenGroup& group) const;
  // Opens one group for the targets using it; records the outcome on each of them.
  void Attempt(const GroupKey& key, Clock::time_point now);
  void Publish();

  int workers_;
  ListenBackoff backoff_;
  uint64_t generation_ = 0;
  std::string map_path_;
  std::map<std::pair<std::string, uint16_t>, Target> targets_;  // (address, port)
  std::map<GroupKey, Result> results_;
  std::map<GroupKey, std::shared_ptr<ListenGroup>> groups_;
  std::map<GroupKey, std::shared_ptr<ListenGroup>> inherited_;
  std::shared_ptr<const ListenSet> set_ = std::make_shared<ListenSet>();
};

// The steer sockmap opened by xgate-proxy --steer-map before it switched user: a proxy run as
// another user cannot open the pin by path (the node's /sys/fs/bpf is root's, mode 0700), so
// Register falls back to this descriptor when opening `path` is refused. The process keeps `fd`.
void SetPreopenedSteerMap(const std::string& path, int fd);

}  // namespace xgate::proxy
