// What the Kubernetes source reports per kind (metrics, logs).
#pragma once

#include <cstdint>
#include <string>

namespace xgate::kube {

struct KindState {
  std::string kind;
  std::string api_version;  // "" while the server does not serve the kind
  bool synced = false;      // listed at least once
  uint64_t watch_restarts = 0;
  uint64_t relists = 0;  // lists after the first one (410 Gone)
};

}  // namespace xgate::kube
