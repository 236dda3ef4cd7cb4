/* xg_rnat: LRU_HASH, a reply's 5-tuple (backend -> client, as the backend sends it) -> the
 * Gateway address and port the client talked to. Written by XDP with each new flow, read
 * by TC on the backend side to rewrite the reply's source. */
#ifndef XGATE_MAPS_RNAT_H
#define XGATE_MAPS_RNAT_H

#include "maps/conntrack.h"

struct xg_rnat_entry {
  __u8 gw_addr[16] XG_ADDR_ALIGN;
  __u16 gw_port;
  __u8 family;
  __u8 pad;
  __u32 listener;
  __u64 last_seen_ns;
};

#endif
