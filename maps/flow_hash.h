/* The flow hash that picks a flow's Maglev slot (xg_flow_hash(f) % XG_MAGLEV_SIZE). One
 * definition for the BPF program (bpf/lb.h) and the agent (explain), so both name the same
 * slot for the same 5-tuple. */
#ifndef XGATE_MAPS_FLOW_HASH_H
#define XGATE_MAPS_FLOW_HASH_H

#include "maps/conntrack.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The flow is read as 32-bit words; may_alias keeps that defined in C++ too. */
typedef __u32 __attribute__((may_alias)) xg_flow_word;

static __always_inline __u32 xg_rol32(__u32 x, int r) { return (x << r) | (x >> (32 - r)); }

/* A murmur3-style hash of the addresses, ports and protocol. */
static __always_inline __u32 xg_flow_hash(const struct xg_flow* f) {
  const xg_flow_word* w = (const xg_flow_word*)f;
  __u32 h = 0x9747b28c ^ f->proto;
#if defined(__bpf__)
#pragma unroll
#endif
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

#endif
