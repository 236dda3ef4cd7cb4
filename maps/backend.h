/* xg_backends: ARRAY, backend id -> endpoint. An id keeps naming the same
 * (service, address, port) while it exists; a freed id has flags 0. `listener` is the key of
 * the listener the backend serves: a connection-table hit is checked against it instead of
 * looking the listener up again. */
#ifndef XGATE_MAPS_BACKEND_H
#define XGATE_MAPS_BACKEND_H

#include "maps/common.h"
#include "maps/listener.h"

#define XG_BACKEND_VALID 0x1

struct xg_backend {
  __u8 addr[16] XG_ADDR_ALIGN;
  __u16 port;
  __u8 family; /* XG_FAMILY_V4 or XG_FAMILY_V6 */
  __u8 flags;  /* XG_BACKEND_* */
  __u32 service_id;
  struct xg_listener_key listener;
};

#endif
