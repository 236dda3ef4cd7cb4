// The proxy's part of a Snapshot: api::L7Config, and the (address, port)s punted to it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/compiler/snapshot.h"
#include "api/config.pb.h"

namespace xgate::compiler {

// Virtual hosts and clusters go into the config lent (see Snapshot::shared_parts), taken
// from `memo` where their routes did not change.
api::L7Config CompileL7(
    const binder::BindResult& bound, uint64_t generation, std::vector<PuntListener>& punt,
    CompileMemo& memo, std::vector<std::shared_ptr<const google::protobuf::Message>>& shared_parts);

}  // namespace xgate::compiler
