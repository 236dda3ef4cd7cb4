// The proxy's part of a Snapshot: api::L7Config, and the (address, port)s punted to it.
#pragma once

#include <cstdint>
#include <vector>

#include "agent/binder/binder.h"
#include "agent/compiler/snapshot.h"
#include "api/config.pb.h"

namespace xgate::compiler {

api::L7Config CompileL7(const binder::BindResult& bound, uint64_t generation,
                        std::vector<PuntListener>& punt);

}  // namespace xgate::compiler
