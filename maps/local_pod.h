/* xg_local_pods: HASH, a pod address on this node -> the pod's interface, as the agent reads it
 * from xgate-cni's records (agent/pods/). The fast path delivers a flow whose backend is such
 * an address straight into the pod's host-side interface, MACs set from here, without the FIB
 * and neighbour lookups; replies come back through the reverse NAT program the agent attaches
 * to that interface's TC ingress. */
#ifndef XGATE_MAPS_LOCAL_POD_H
#define XGATE_MAPS_LOCAL_POD_H

#include "maps/common.h"

#define XG_MAX_LOCAL_PODS 4096

struct xg_local_pod_key {
  __u8 addr[16] XG_ADDR_ALIGN; /* the pod's address (IPv4 v4-mapped) */
};

struct xg_local_pod {
  __u32 ifindex;    /* the pod's host-side interface (the veth end outside the pod) */
  __u8 pod_mac[6];  /* the pod's interface inside its namespace: the frame's destination */
  __u8 host_mac[6]; /* the host-side interface: the frame's source */
  __u8 family;      /* XG_FAMILY_V4 or XG_FAMILY_V6 */
  __u8 pad[3];
};

#endif
