// The kernel fast path's part of a Snapshot: TCP and UDP listeners with weighted backends.
#pragma once

#include <vector>

#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/compiler/snapshot.h"

namespace xgate::compiler {

std::vector<L4Listener> CompileL4(const binder::BindResult& bound,
                                  const CompileOptions& options = {});

// The oldest of the routes attached to a listener (creation timestamp, then creation
// index, then namespace/name): the one an L4 listener forwards for.
const binder::BoundRoute* OldestRoute(const std::vector<binder::BoundRoute>& routes);

}  // namespace xgate::compiler
