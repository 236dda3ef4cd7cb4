// Explains what the kernel fast path does with a packet (a 5-tuple): which listener, the
// flow hash and Maglev slot (the BPF program's own hash, maps/flow_hash.h), the backend the
// slot names, and whether a connection-table entry already pins the flow.
#pragma once

#include "absl/status/statusor.h"
#include "agent/compiler/snapshot.h"
#include "agent/inspect/l4_maps.h"
#include "api/admin.pb.h"

namespace xgate::inspect {

// The flow key the fast path builds for this packet (addresses v4-mapped, ports host order).
absl::StatusOr<xg_flow> ProbeFlow(const api::PacketProbe& probe);

// With `kernel` (an agent run with --attach) the listener, table, backend and conntrack
// answers come from the pinned maps; without it the Maglev table is computed from the
// snapshot as the L4 applier writes it and no connection table is consulted.
absl::StatusOr<api::PacketExplanation> ExplainPacket(const compiler::Snapshot& snapshot,
                                                     const api::PacketProbe& probe,
                                                     const L4Maps* kernel);

}  // namespace xgate::inspect
