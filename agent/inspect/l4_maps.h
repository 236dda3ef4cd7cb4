// The kernel fast path's pinned maps as the admin API reads them (an agent run with
// --attach): the connection table in pages, the counters summed over CPUs, a Maglev slot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/compiler/snapshot.h"
#include "api/admin.pb.h"
#include "maps/typed_map.h"

namespace xgate::inspect {

struct L4Maps {
  // Opens every map pinned under `pin_root`.
  static absl::StatusOr<std::unique_ptr<L4Maps>> Open(const std::string& pin_root);

  // The backend id in slot `slot` of service `service`'s table; nullopt when the service has
  // no table (no backend: packets dropped).
  absl::StatusOr<std::optional<uint32_t>> MaglevSlot(uint32_t service, uint32_t slot) const;

  maps::ListenerMap listeners;
  maps::BackendMap backends;
  maps::MaglevOuterMap maglev;
  maps::ConntrackMap conntrack;
  maps::TrafficCounters listener_stats;
  maps::TrafficCounters backend_stats;
  maps::TrafficCounters path_stats;
  maps::TrafficCounters drop_stats;
  // The steer program's results; absent under a pin root it never ran on.
  std::optional<maps::TrafficCounters> steer_stats;
  std::string pin_root;  // where xg_xmit_drops is read from
};

// The snapshot's L4 listener for (address, port, protocol) in map form, or nullptr.
const compiler::L4Listener* FindL4Listener(const compiler::Snapshot& snapshot,
                                           const uint8_t addr[16], uint16_t port, uint8_t proto);

// The L7 listeners ("ns/gateway/listener", comma-separated) the proxy serves on a punted
// (address, port), or "".
std::string PuntListenerNames(const compiler::Snapshot& snapshot, const uint8_t addr[16],
                              uint16_t port);

std::string ProtocolName(uint8_t proto);

// One connection-table entry as the API shows it; `snapshot` (may be null) names its listener.
api::ConntrackEntry DescribeFlow(const L4Maps& maps, const compiler::Snapshot* snapshot,
                                 const xg_flow& flow, const xg_ct_entry& entry);

// A page of the connection table, in the map's iteration order; the token is the last key
// returned (a key evicted meanwhile restarts the walk, as bpf_map_get_next_key does).
absl::StatusOr<api::GetConntrackResponse> ReadConntrack(const L4Maps& maps,
                                                        const compiler::Snapshot* snapshot,
                                                        uint32_t page_size,
                                                        const std::string& page_token);

absl::StatusOr<api::GetCountersResponse> ReadCounters(const L4Maps& maps,
                                                      const compiler::Snapshot* snapshot);

}  // namespace xgate::inspect
