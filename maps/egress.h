/* Where the fast path may XDP_REDIRECT: xg_egress holds, per egress device (ifindex), what
 * it accepts, as the agent reads it from the kernel's xdp-features of the device
 * (agent/node/egress_caps). A veth accepts redirected frames only while its peer has NAPI
 * (an XDP program, or GRO): otherwise the kernel drops them. Toward a device not in the map,
 * or without XG_EGRESS_XDP_XMIT, XDP hands the rewritten packet up and TC ingress sends it
 * (bpf_redirect_neigh), which any device accepts.
 *
 * xg_xmit_drops counts, per device, the redirected frames the kernel dropped on transmit (the
 * xdp_devmap_xmit tracepoint's drops), so a blackhole never looks like a forward. */
#ifndef XGATE_MAPS_EGRESS_H
#define XGATE_MAPS_EGRESS_H

#include "maps/common.h"

#define XG_MAX_EGRESS 16384
#define XG_EGRESS_XDP_XMIT 1u /* the device takes XDP_REDIRECTed frames (ndo_xdp_xmit) */

struct xg_egress {
  __u32 flags; /* XG_EGRESS_* */
};

/* xg_egress_gen (one __u32): moved on by the agent after each change of xg_egress, so that the
 * next hops connections cached (maps/nexthop.h) are looked up again at once. */

#endif
