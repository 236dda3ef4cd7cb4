/* A next hop as bpf_fib_lookup gave it, or a local pod's interface as its record gives it,
 * cached in each connection (xg_ct_entry.nh) so the packets after a flow's first skip the
 * FIB and the local pod lookup: valid until the kernel tick count
 * (bpf_jiffies64) reaches `expires`, for packets that arrive on in_ifindex and fit in mtu. */
#ifndef XGATE_MAPS_NEXTHOP_H
#define XGATE_MAPS_NEXTHOP_H

#include "maps/common.h"

/* How long a FIB answer stands, in kernel ticks (48 ms at HZ=250; 12 to 120 ms for HZ 1000
 * to 100): a route or neighbour change reaches an established flow within this time (a new
 * flow always looks up afresh). Ticks, not nanoseconds: reading them costs one load. */
#define XG_NH_TTL_TICKS 12

/* XDP_REDIRECT (or XDP_TX) toward ifindex; without it, through TC (maps/egress.h). */
#define XG_HOP_XMIT 0x1
/* ifindex is a local pod's host-side interface (maps/local_pod.h), MACs from its record. */
#define XG_HOP_LOCAL 0x2
struct xg_nexthop {
  __u64 expires;    /* bpf_jiffies64() from which the FIB is asked again; 0: none yet */
  __u32 ifindex;    /* out of here (0: none yet) */
  __u32 in_ifindex; /* the lookup was for packets arriving here */
  __u16 mtu;        /* L3 bytes the route carries */
  __u8 dmac[6];
  __u8 smac[6];
  __u8 flags;      /* XG_HOP_* */
  __u8 egress_gen; /* xg_egress_gen when it was looked up (a change of any device's answer
                    * makes every cached hop stale) */
};

#endif
