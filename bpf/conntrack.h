/* The connection table: a flow keeps its backend while that backend exists. */
#ifndef XGATE_BPF_CONNTRACK_H
#define XGATE_BPF_CONNTRACK_H

#include "bpf/maps.bpf.h"

#define XG_CT_REFRESH_NS 1000000000ULL /* write last_seen at most once a second per flow */

static __always_inline int xg_addr_eq(const __u8* a, const __u8* b) {
  const __u32* x = (const __u32*)a;
  const __u32* y = (const __u32*)b;
  return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* The flow's entry if its backend still exists as recorded and still serves the listener
 * the flow is addressed to (so a hit needs no listener lookup), else NULL. `ticks` is
 * bpf_jiffies64(): the clock is read in nanoseconds only when the next hop is due. */
static __always_inline struct xg_ct_entry* xg_ct_lookup(const struct xg_flow* f, __u64 ticks) {
  struct xg_ct_entry* ct = bpf_map_lookup_elem(&xg_conntrack, f);
  if (!ct) return NULL;
  __u32 id = ct->backend_id;
  struct xg_backend* b = bpf_map_lookup_elem(&xg_backends, &id);
  if (!b || !(b->flags & XG_BACKEND_VALID) || b->port != ct->backend_port ||
      !xg_addr_eq(b->addr, ct->backend_addr) || b->listener.port != f->dport ||
      b->listener.proto != f->proto || !xg_addr_eq(b->listener.addr, f->dst))
    return NULL;
  if (ticks >= ct->nh.expires) {
    __u64 now = bpf_ktime_get_coarse_ns();
    if (now > ct->last_seen_ns + XG_CT_REFRESH_NS) ct->last_seen_ns = now;
  }
  return ct;
}

/* A new flow's entry (next hop not looked up yet). */
static __always_inline void xg_ct_fill(struct xg_ct_entry* ct, const struct xg_backend* b,
                                       __u32 backend_id, __u32 listener, __u64 now) {
  __builtin_memset(ct, 0, sizeof(*ct));
  __builtin_memcpy(ct->backend_addr, b->addr, 16);
  ct->backend_port = b->port;
  ct->family = b->family;
  ct->backend_id = backend_id;
  ct->listener = listener;
  ct->created_ns = now;
  ct->last_seen_ns = now;
}

/* Records a new flow and its reply direction. Returns 0 on success. */
static __always_inline int xg_ct_record(const struct xg_flow* f, const struct xg_ct_entry* ct) {
  if (bpf_map_update_elem(&xg_conntrack, f, ct, BPF_ANY)) return -1;

  struct xg_flow reply __attribute__((aligned(8)));
  __builtin_memset(&reply, 0, sizeof(reply));
  __builtin_memcpy(reply.src, ct->backend_addr, 16);
  __builtin_memcpy(reply.dst, f->src, 16);
  reply.sport = ct->backend_port;
  reply.dport = f->sport;
  reply.proto = f->proto;
  struct xg_rnat_entry rn;
  __builtin_memset(&rn, 0, sizeof(rn));
  __builtin_memcpy(rn.gw_addr, f->dst, 16);
  rn.gw_port = f->dport;
  rn.family = ct->family;
  rn.listener = ct->listener;
  rn.last_seen_ns = ct->created_ns;
  if (bpf_map_update_elem(&xg_rnat, &reply, &rn, BPF_ANY)) return -1;
  return 0;
}

#endif
