/* Incremental Internet checksum updates (RFC 1624) on 16-bit words in memory order, so no
 * byte swapping is needed: the one's-complement sum does not depend on byte order. */
#ifndef XGATE_BPF_CSUM_H
#define XGATE_BPF_CSUM_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
// clang-format on

static __always_inline __u16 xg_csum_fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)sum;
}

/* Adds "word `from` became `to`" to a running delta. */
static __always_inline __u32 xg_csum_delta16(__u32 delta, __u16 from, __u16 to) {
  return delta + (__u16)~from + to;
}

/* Adds a 16-byte (address) change to a running delta. Both pointers 4-byte aligned or
 * packet pointers; read as 16-bit words. */
static __always_inline __u32 xg_csum_delta_addr(__u32 delta, const __u8* from, const __u8* to,
                                                int len) {
  const __u16* f = (const __u16*)from;
  const __u16* t = (const __u16*)to;
#pragma unroll
  for (int i = 0; i < 8; i++) {
    if (i < len / 2) delta = xg_csum_delta16(delta, f[i], t[i]);
  }
  return delta;
}

/* Applies a delta to a checksum field. */
static __always_inline void xg_csum_apply(__u16* check, __u32 delta) {
  __u32 sum = (__u16) ~*check + xg_csum_fold(delta);
  *check = ~xg_csum_fold(sum);
}

#endif
