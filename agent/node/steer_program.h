// The steer program (bpf/steer.bpf.c) on the node: loaded with its maps pinned under the pin
// root (reused when there), attached at TC ingress of each interface ahead of the fast path's
// programs, its tcx links pinned so it keeps steering after the agent exits and a new agent
// swaps its own build in place.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "maps/pins.h"

struct xgate_steer_bpf;

namespace xgate::node {

using maps::kSteerSocks;
using maps::kSteerStats;
using maps::kSteerTargets;
inline constexpr std::string_view kSteerLinkPrefix = "link_steer_in_";

class SteerProgram {
 public:
  static absl::StatusOr<std::unique_ptr<SteerProgram>> Open(
      const std::string& pin_root, const std::vector<std::string>& interfaces);
  ~SteerProgram();
  SteerProgram(const SteerProgram&) = delete;
  SteerProgram& operator=(const SteerProgram&) = delete;

  int TargetsFd() const;
  int StatsFd() const;
  int SocksFd() const;
  int ProgFd() const;

  // Takes the program off the interfaces and removes its pins (maps and links).
  absl::Status DetachAndUnpin();

 private:
  SteerProgram(std::string pin_root, std::vector<std::string> interfaces)
      : pin_root_(std::move(pin_root)), interfaces_(std::move(interfaces)) {}

  std::string pin_root_;
  std::vector<std::string> interfaces_;
  xgate_steer_bpf* skel_ = nullptr;
};

}  // namespace xgate::node
