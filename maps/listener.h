/* xg_listeners: (Gateway address, port, protocol) -> what the fast path does with it. */
#ifndef XGATE_MAPS_LISTENER_H
#define XGATE_MAPS_LISTENER_H

#include "maps/common.h"

#define XG_LISTENER_L4 0x1   /* forward in the kernel to the service's backends */
#define XG_LISTENER_PUNT 0x2 /* hand to the stack: the userspace proxy serves it */

struct xg_listener_key {
  __u8 addr[16] XG_ADDR_ALIGN;
  __u16 port;
  __u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
  __u8 pad;
};

struct xg_listener_value {
  __u32 service_id;    /* index into xg_maglev (L4 only) */
  __u32 flags;         /* XG_LISTENER_* */
  __u32 counter_index; /* index into xg_lstn_stats */
};

#endif
