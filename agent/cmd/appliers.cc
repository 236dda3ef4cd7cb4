#include "agent/cmd/appliers.h"

#include <filesystem>

#include "agent/l4/l4_applier.h"
#include "agent/l7/l7_applier.h"
#include "agent/node/steering.h"
#include "maps/pins.h"

namespace xgate::agent {

// The proxy's config stream lives beside the admin socket, so agents run side by side (tests,
// the demo) each talk to their own proxy; a proxy run as another user (--proxy-user) gets a
// folder of its own there, proxy/, for it and its stats socket.
std::string ProxySocketPath(const AgentFlags& flags) {
  std::filesystem::path folder = std::filesystem::path(flags.admin_socket).parent_path();
  if (!flags.proxy_user.empty()) folder /= "proxy";
  return (folder / "proxy.sock").string();
}

absl::StatusOr<std::vector<std::unique_ptr<appliers::Applier>>> BuildAppliers(
    const AgentFlags& flags, std::shared_ptr<l7::ListenReports> listen_reports) {
  std::vector<std::unique_ptr<appliers::Applier>> list;
  // With --attach the agent programs the node: the XDP/TC fast path on those interfaces, and
  // the steering of its L7 listeners' traffic to the proxy. Without it, only the proxy runs.
  if (!flags.attach.empty()) {
    l4::L4ApplierOptions l4_options;
    l4_options.pin_root = flags.pin_root;
    l4_options.interfaces = flags.attach;
    auto l4 = l4::L4Applier::Create(l4_options);
    if (!l4.ok()) return l4.status();
    list.push_back(std::move(*l4));
    node::SteeringOptions steer_options;
    steer_options.pin_root = flags.pin_root;
    steer_options.interfaces = flags.attach;
    auto steering = node::SteeringApplier::Create(steer_options);
    if (!steering.ok()) return steering.status();
    list.push_back(std::move(*steering));
  }
  l7::L7ApplierOptions l7_options;
  l7_options.socket_path = ProxySocketPath(flags);
  l7_options.listen_reports = std::move(listen_reports);
  l7_options.proxy_user = flags.proxy_user;
  if (!flags.proxy_user.empty() && !flags.attach.empty()) {
    // The steer sockmap's pin is out of that user's reach: the proxy opens it before it switches.
    l7_options.proxy_args = {"--steer-map", maps::PinPath(flags.pin_root, maps::kSteerSocks)};
  }
  auto l7 = l7::L7Applier::Create(l7_options);
  if (!l7.ok()) return l7.status();
  list.push_back(std::move(*l7));
  return list;
}

}  // namespace xgate::agent
