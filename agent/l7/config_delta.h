// Deltas of the agent -> proxy config stream: what changed between two L7Configs the agent
// publishes, as an L7Config with base_generation set (see api/config.proto). A change among
// 10,000 HTTPRoutes then sends, parses and rebuilds a few virtual hosts, not 10,000.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "api/config.pb.h"

namespace xgate::l7 {

class ConfigDelta {
 public:
  // Remembers `next` and returns it as a delta on the config remembered before; nullopt for
  // the first, and when two listeners of `next` share a key (a delta could not name them).
  // A virtual host or cluster that is the very object the config before had (snapshots
  // share those, see compiler::Snapshot::shared_parts) is known unchanged without being
  // serialized: the config before is held until the next call, so the address is its own.
  std::optional<api::L7Config> Next(std::shared_ptr<const api::L7Config> next);
  std::optional<api::L7Config> Next(const api::L7Config& next) {
    return Next(std::make_shared<const api::L7Config>(next));
  }
  // Whether the next Next can return a delta (a config is remembered that a delta can name).
  bool HasBase() const { return have_ && generation_ != 0; }

  // What was sent of one object: its bytes, the object itself in the config before, and the
  // Next call that last saw it.
  struct Seen {
    std::string bytes;
    const void* object = nullptr;
    uint64_t stamp = 0;
  };
  // The objects of one list (a listener's virtual hosts, the clusters) by name, and in the
  // order the config before listed them: an object that is the very one in the same place
  // is known unchanged without its name being hashed. `order` is empty when the config before
  // named one object twice.
  struct Known {
    absl::node_hash_map<std::string, Seen> by_name;
    std::vector<std::pair<const std::string, Seen>*> order;
  };

 private:
  struct Listener {
    Known vhosts;  // by hostname
    uint64_t stamp = 0;
  };
  std::shared_ptr<const api::L7Config> last_;
  bool have_ = false;
  uint64_t generation_ = 0;
  uint64_t stamp_ = 0;
  absl::flat_hash_map<std::string, Listener> listeners_;  // by routing::ListenerKey
  Known clusters_;
  Known certificates_;
};

}  // namespace xgate::l7
