// "Oldest first", as the Gateway API breaks ties between Routes (and as we order Gateways
// that compete for a port).
#pragma once

#include <functional>
#include <tuple>

#include "agent/model/objects.h"

namespace xgate::binder {

// Objects with a creationTimestamp by timestamp; objects without one after them (standalone
// mode sees them first at load time, so they are the youngest), by order of appearance.
// Callers append the namespace/name: the spec's tie-break for equal timestamps.
inline auto AgeKey(const model::ObjectMeta& meta) {
  const bool stamped = !meta.creation_timestamp.empty();
  return std::make_tuple(!stamped, std::cref(meta.creation_timestamp),
                         stamped ? int64_t{0} : meta.creation_index);
}

}  // namespace xgate::binder
