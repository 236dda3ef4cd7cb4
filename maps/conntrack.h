/* xg_conntrack: LRU_HASH, the client's 5-tuple as it arrives (client -> Gateway address)
 * -> the backend chosen for it and the next hop toward it. A hit keeps the flow on its
 * backend across table changes for as long as that backend exists. */
#ifndef XGATE_MAPS_CONNTRACK_H
#define XGATE_MAPS_CONNTRACK_H

#include "maps/common.h"
#include "maps/nexthop.h"

struct xg_flow {
  __u8 src[16] XG_ADDR_ALIGN;
  __u8 dst[16] XG_ADDR_ALIGN;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct xg_ct_entry {
  __u8 backend_addr[16] XG_ADDR_ALIGN;
  __u16 backend_port;
  __u8 family;
  __u8 pad;
  __u32 backend_id;
  __u32 listener; /* counter index of the listener */
  __u32 pad2;
  __u64 created_ns;   /* CLOCK_MONOTONIC (bpf_ktime_get_coarse_ns(): within a tick) */
  __u64 last_seen_ns; /* refreshed when the next hop is due, at most once a second */
  struct xg_nexthop nh;
};

#endif
