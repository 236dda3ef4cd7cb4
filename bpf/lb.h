/* Backend choice: flow hash -> Maglev slot -> backend id -> backend. */
#ifndef XGATE_BPF_LB_H
#define XGATE_BPF_LB_H

#include "bpf/maps.bpf.h"
#include "maps/flow_hash.h"

/* The backend the service's current table gives this flow, or NULL with *drop set. */
static __always_inline struct xg_backend* xg_pick_backend(__u32 service_id, const struct xg_flow* f,
                                                          __u32* backend_id, __u32* drop) {
  void* table = bpf_map_lookup_elem(&xg_maglev, &service_id);
  if (!table) {
    *drop = XG_DROP_NO_BACKEND;
    return NULL;
  }
  __u32 slot = xg_flow_hash(f) % XG_MAGLEV_SIZE;
  __u32* id = bpf_map_lookup_elem(table, &slot);
  if (!id) {
    *drop = XG_DROP_NO_BACKEND;
    return NULL;
  }
  __u32 bid = *id;
  struct xg_backend* b = bpf_map_lookup_elem(&xg_backends, &bid);
  if (!b || !(b->flags & XG_BACKEND_VALID)) {
    *drop = XG_DROP_BAD_BACKEND;
    return NULL;
  }
  *backend_id = bid;
  return b;
}

#endif
