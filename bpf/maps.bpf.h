/* The map definitions (BTF-defined, pinned by name under the pin root given at open). */
#ifndef XGATE_BPF_MAPS_H
#define XGATE_BPF_MAPS_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps/backend.h"
#include "maps/conntrack.h"
#include "maps/counters.h"
#include "maps/egress.h"
#include "maps/flow_cache.h"
#include "maps/listener.h"
#include "maps/maglev.h"
#include "maps/rnat.h"
// clang-format on

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XG_MAX_LISTENERS);
  __type(key, struct xg_listener_key);
  __type(value, struct xg_listener_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_listeners SEC(".maps");

/* mmapable so the agent fills a new table with one memcpy (a 65,537-entry batch update costs
 * ~25 ms); every inner table must carry the template's flags. */
struct xg_maglev_table {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XG_MAGLEV_SIZE);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, xg_maglev_slot);
  __type(value, xg_backend_id);
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, XG_MAX_SERVICES);
  __type(key, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __array(values, struct xg_maglev_table);
} xg_maglev SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XG_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct xg_backend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XG_CONNTRACK_SIZE);
  __type(key, struct xg_flow);
  __type(value, struct xg_ct_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_conntrack SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XG_CONNTRACK_SIZE);
  __type(key, struct xg_flow);
  __type(value, struct xg_rnat_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_rnat SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XG_MAX_LISTENERS);
  __type(key, __u32);
  __type(value, struct xg_traffic);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_lstn_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XG_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct xg_traffic);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_bknd_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XG_PATH_MAX);
  __type(key, __u32);
  __type(value, struct xg_traffic);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_path_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XG_DROP_MAX);
  __type(key, __u32);
  __type(value, struct xg_traffic);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_drop_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XG_MAX_EGRESS);
  __type(key, __u32);
  __type(value, struct xg_egress);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_egress SEC(".maps");

/* A generation: one __u32 the agent moves on after each change it announces (xg_egress_gen:
 * maps/egress.h; xg_flow_gen: maps/flow_cache.h). */
struct xg_generation_map {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
};
struct xg_generation_map xg_egress_gen SEC(".maps");
struct xg_generation_map xg_flow_gen SEC(".maps");

/* One range of XG_FLOW_CACHE_SETS sets per possible CPU (max_entries set by the loader):
 * a plain array is one load away from its slot where a per-CPU array's elements, allocated
 * one by one, cost a pointer load first; mmapable for page-aligned, so line-aligned, sets. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XG_FLOW_CACHE_SETS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct xg_flow_set);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_flow_cache SEC(".maps");

static __always_inline void xg_count(void* map, __u32 index, __u64 bytes) {
  struct xg_traffic* t = bpf_map_lookup_elem(map, &index);
  if (t) {
    t->packets++;
    t->bytes += bytes;
  }
}

/* Whether XDP_REDIRECT toward the device delivers (maps/egress.h); unknown devices: no. */
static __always_inline int xg_egress_takes_xdp(__u32 ifindex) {
  struct xg_egress* e = bpf_map_lookup_elem(&xg_egress, &ifindex);
  return e && (e->flags & XG_EGRESS_XDP_XMIT);
}

#endif
