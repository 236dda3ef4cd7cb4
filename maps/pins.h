// Names of the pinned maps (each pinned as <pin root>/<name>) and the pin paths of the
// programs and links under the same root.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace xgate::maps {

inline constexpr std::string_view kListeners = "xg_listeners";
inline constexpr std::string_view kMaglev = "xg_maglev";
inline constexpr std::string_view kBackends = "xg_backends";
inline constexpr std::string_view kConntrack = "xg_conntrack";
inline constexpr std::string_view kRnat = "xg_rnat";
inline constexpr std::string_view kListenerStats = "xg_lstn_stats";
inline constexpr std::string_view kBackendStats = "xg_bknd_stats";
inline constexpr std::string_view kPathStats = "xg_path_stats";
inline constexpr std::string_view kDropStats = "xg_drop_stats";
inline constexpr std::string_view kEgress = "xg_egress";
inline constexpr std::string_view kEgressGen = "xg_egress_gen";
inline constexpr std::string_view kXmitDrops = "xg_xmit_drops";
inline constexpr std::string_view kLocalPods = "xg_local_pods";
inline constexpr std::string_view kFlowCache = "xg_flow_cache";
inline constexpr std::string_view kFlowGen = "xg_flow_gen";
// The steer program's (bpf/steer.bpf.c), pinned beside the fast path's and removed with it.
inline constexpr std::string_view kSteerTargets = "xg_steer_targets";
inline constexpr std::string_view kSteerStats = "xg_steer_stats";
inline constexpr std::string_view kSteerSocks = "xg_steer_socks";

// The fast path object's (xg_xmit_drops is the transmit-drop counter's, bpf/xmit_drops.bpf.c).
inline constexpr std::array<std::string_view, 14> kAllMaps = {
    kListeners, kMaglev,    kBackends, kConntrack, kRnat,      kListenerStats, kBackendStats,
    kPathStats, kDropStats, kEgress,   kEgressGen, kLocalPods, kFlowCache,     kFlowGen};

inline std::string PinPath(std::string_view root, std::string_view name) {
  std::string path(root);
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

}  // namespace xgate::maps
