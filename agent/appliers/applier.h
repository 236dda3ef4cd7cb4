// A data plane the agent programs from each new Snapshot (the BPF maps, the proxy's config).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "agent/compiler/snapshot.h"

namespace xgate::appliers {

class Applier {
 public:
  virtual ~Applier() = default;
  virtual std::string Name() const = 0;
  // Programs the data plane from `snapshot`, whole or not at all: on error the data plane
  // keeps serving the previous snapshot.
  virtual absl::Status Apply(const compiler::Snapshot& snapshot) = 0;
  // The same, for an applier that keeps the snapshot past the call: it may share it.
  virtual absl::Status ApplyShared(const std::shared_ptr<const compiler::Snapshot>& snapshot) {
    return Apply(*snapshot);
  }
  // Called once when the agent stops. `detach` is --detach-on-exit: remove programs and
  // pins; otherwise leave the data plane serving.
  virtual void Stop(bool detach) {}
};

}  // namespace xgate::appliers
