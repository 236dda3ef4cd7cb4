// "Oldest first", as the Gateway API breaks ties between Routes (and as we order Gateways
// that compete for a port).
#pragma once

#include <functional>
#include <tuple>

#include "agent/model/objects.h"

namespace xgate::binder {

// Objects with a creationTimestamp by timestamp; objects without one after them (standalone
// mode sees them first at load time, so they are the youngest); then order of appearance.
inline auto AgeKey(const model::ObjectMeta& meta) {
  return std::make_tuple(meta.creation_timestamp.empty(), std::cref(meta.creation_timestamp),
                         meta.creation_index);
}

}  // namespace xgate::binder
