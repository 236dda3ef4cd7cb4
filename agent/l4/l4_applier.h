// The L4 part of a Snapshot -> the fast path's maps: listeners, backends and one Maglev
// table per L4 listener, each table swapped in whole.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/appliers/applier.h"
#include "agent/l4/datapath.h"
#include "agent/l4/maglev.h"
#include "maps/typed_map.h"

namespace xgate::l4 {

struct L4ApplierOptions {
  std::string pin_root = XG_DEFAULT_PIN_ROOT;
  std::vector<std::string> interfaces;  // where XDP and TC go (--attach)
  // A backend that leaves the snapshot while its listener stays drains: no table sends it
  // new flows, but its entry stays (so tracked flows keep reaching it) until no tracked
  // flow to it has been seen for this long, as checked at a later Apply.
  std::chrono::nanoseconds drain_idle = std::chrono::minutes(5);
};

class L4Applier : public appliers::Applier {
 public:
  // Loads (or adopts) the programs and maps, and reads back what a previous agent left in
  // them so ids and counters carry over.
  static absl::StatusOr<std::unique_ptr<L4Applier>> Create(const L4ApplierOptions& options);

  std::string Name() const override { return "l4"; }
  absl::Status Apply(const compiler::Snapshot& snapshot) override;
  void Stop(bool detach) override;

  Datapath& datapath() { return *datapath_; }

 private:
  using ListenerKeyBytes = std::array<uint8_t, sizeof(xg_listener_key)>;
  // A backend's identity: service id, address, port.
  struct BackendIdentity {
    uint32_t service = 0;
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;
    auto operator<=>(const BackendIdentity&) const = default;
  };

  explicit L4Applier(const L4ApplierOptions& options) : drain_idle_(options.drain_idle) {}
  absl::Status Reconcile();
  // Apply's writes; Apply then moves xg_flow_gen on, whatever they came to.
  absl::Status WriteMaps(const compiler::Snapshot& snapshot);
  // Of `candidates` (removed backends), those a tracked flow used within drain_idle, with
  // how many such flows each has.
  absl::StatusOr<std::map<uint32_t, int>> LiveFlows(
      const std::map<BackendIdentity, uint32_t>& candidates) const;

  std::unique_ptr<Datapath> datapath_;
  maps::ListenerMap listeners_;
  maps::BackendMap backends_;
  maps::MaglevOuterMap maglev_;
  maps::ConntrackMap conntrack_;
  maps::TrafficCounters listener_stats_;
  maps::TrafficCounters backend_stats_;
  maps::MapFd flow_gen_;  // xg_flow_gen: moved on after every Apply (maps/flow_cache.h)

  std::map<ListenerKeyBytes, uint32_t> slots_;       // listener key -> service id = counter index
  std::map<BackendIdentity, uint32_t> backend_ids_;  // draining ones included
  std::chrono::nanoseconds drain_idle_;
  // Service id -> the backends its table in the kernel was built from (nullopt: a table a
  // previous agent left). A table is built again only when they change; the table itself is
  // not kept (256 KiB each).
  std::map<uint32_t, std::optional<std::vector<MaglevBackend>>> tables_;
  bool stopped_ = false;
};

}  // namespace xgate::l4
