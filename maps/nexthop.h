/* A next hop as bpf_fib_lookup gave it, cached in each connection (xg_ct_entry.nh) so the
 * packets after a flow's first skip the FIB: valid while checked_ns + XG_NH_TTL_NS is ahead
 * of the clock, for packets that arrive on in_ifindex and fit in mtu. */
#ifndef XGATE_MAPS_NEXTHOP_H
#define XGATE_MAPS_NEXTHOP_H

#include "maps/common.h"

/* How long a FIB answer stands: a route or neighbour change reaches an established flow
 * within this time (a new flow always looks up afresh). */
#define XG_NH_TTL_NS 50000000ULL /* 50 ms */

struct xg_nexthop {
  __u64 checked_ns; /* bpf_ktime_get_coarse_ns() of the lookup; 0: none yet */
  __u32 ifindex;    /* out of here (0: none yet) */
  __u32 in_ifindex; /* the lookup was for packets arriving here */
  __u16 mtu;        /* L3 bytes the route carries */
  __u8 dmac[6];
  __u8 smac[6];
  __u8 pad[2];
};

#endif
