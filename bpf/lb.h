/* Backend choice: flow hash -> Maglev slot -> backend id -> backend. */
#ifndef XGATE_BPF_LB_H
#define XGATE_BPF_LB_H

#include "bpf/maps.bpf.h"

static __always_inline __u32 xg_rol32(__u32 x, int r) { return (x << r) | (x >> (32 - r)); }

/* A murmur3-style hash of the addresses, ports and protocol. */
static __always_inline __u32 xg_flow_hash(const struct xg_flow* f) {
  const __u32* w = (const __u32*)f;
  __u32 h = 0x9747b28c ^ f->proto;
#pragma unroll
  for (int i = 0; i < 9; i++) {
    __u32 k = w[i] * 0xcc9e2d51;
    k = xg_rol32(k, 15) * 0x1b873593;
    h ^= k;
    h = xg_rol32(h, 13) * 5 + 0xe6546b64;
  }
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

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
