// Deltas of the agent -> proxy config stream: what changed between two L7Configs the agent
// publishes, as an L7Config with base_generation set (see api/config.proto). A change among
// 10,000 HTTPRoutes then sends, parses and rebuilds a few virtual hosts, not 10,000.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "api/config.pb.h"

namespace xgate::l7 {

class ConfigDelta {
 public:
  // Remembers `next` and returns it as a delta on the config remembered before; nullopt for
  // the first, and when two listeners of `next` share a key (a delta could not name them).
  std::optional<api::L7Config> Next(const api::L7Config& next);

  // What was sent of one object: its bytes, and the Next call that last saw it.
  struct Seen {
    std::string bytes;
    uint64_t stamp = 0;
  };
  using Known = absl::flat_hash_map<std::string, Seen>;  // by name

 private:
  struct Listener {
    Known vhosts;  // by hostname
    uint64_t stamp = 0;
  };
  bool have_ = false;
  uint64_t generation_ = 0;
  uint64_t stamp_ = 0;
  absl::flat_hash_map<std::string, Listener> listeners_;  // by routing::ListenerKey
  Known clusters_;
  Known certificates_;
};

}  // namespace xgate::l7
