// Turns a bound configuration into one immutable Snapshot for both data planes.
#pragma once

#include <memory>

#include "agent/binder/binder.h"
#include "agent/compiler/snapshot.h"

namespace xgate::compiler {

std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation);

}  // namespace xgate::compiler
