// Readable names of the counters' indexes (for xgatectl, metrics and logs).
#pragma once

#include <cstdint>
#include <string_view>

#include "maps/counters.h"
#include "maps/steer.h"

namespace xgate::maps {

inline constexpr std::string_view PathName(uint32_t path) {
  switch (path) {
    case XG_PATH_PASS_NOT_IP:
      return "pass_not_ip";
    case XG_PATH_PASS_FRAGMENT:
      return "pass_fragment_or_options";
    case XG_PATH_PASS_NO_LISTENER:
      return "pass_no_listener";
    case XG_PATH_PUNT:
      return "punt";
    case XG_PATH_FORWARD:
      return "forward_xdp";
    case XG_PATH_FORWARD_UP:
      return "forward_up";
    case XG_PATH_CT_HIT:
      return "conntrack_hit";
    case XG_PATH_CT_NEW:
      return "conntrack_new";
    case XG_PATH_RNAT:
      return "reverse_nat";
    case XG_PATH_ICMP_TRANSLATED:
      return "icmp_translated";
    case XG_PATH_PARTIAL_CSUM:
      return "partial_checksum_completed";
    case XG_PATH_FORWARD_TC:
      return "forward_tc";
    case XG_PATH_FORWARD_LOCAL:
      return "forward_local";
    case XG_PATH_FLOW_CACHE_HIT:
      return "flow_cache_hit";
    default:
      return "unknown";
  }
}

inline constexpr std::string_view DropName(uint32_t reason) {
  switch (reason) {
    case XG_DROP_TRUNCATED:
      return "truncated";
    case XG_DROP_NO_BACKEND:
      return "no_backend";
    case XG_DROP_BAD_BACKEND:
      return "bad_backend";
    case XG_DROP_CT_FULL:
      return "conntrack_full";
    default:
      return "unknown";
  }
}

inline constexpr std::string_view SteerResultName(uint32_t result) {
  switch (result) {
    case XG_STEER_LISTENER:
      return "listener";
    case XG_STEER_ESTABLISHED:
      return "established";
    case XG_STEER_NO_SOCKET:
      return "no_socket";
    case XG_STEER_ASSIGN_FAILED:
      return "assign_failed";
    default:
      return "unknown";
  }
}

}  // namespace xgate::maps
