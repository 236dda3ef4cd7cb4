/* Partial transport checksums. A packet sent by a local stack over a veth with transmit
 * checksum offload carries in its TCP/UDP checksum field only the folded pseudo-header sum
 * (CHECKSUM_PARTIAL): whoever transmits it last is to finish the sum. XDP cannot see that
 * state, and a frame it redirects loses it, so the receiver would find a wrong checksum.
 * Such a packet is recognised by its field equalling the pseudo-header sum while the
 * segment does not verify (a complete checksum equals that sum for 1 packet in 65536, and
 * then it verifies), and is completed here; one handed to the stack instead is put back in
 * partial form, since its socket buffer still says CHECKSUM_PARTIAL. */
#ifndef XGATE_BPF_PARTIAL_CSUM_H
#define XGATE_BPF_PARTIAL_CSUM_H

#include "bpf/csum.h"
#include "bpf/maps.bpf.h"
#include "bpf/nat.h"
#include "bpf/parsing.h"

#define XG_CSUM_CHUNK 512
#define XG_CSUM_MAX_CHUNKS 4 /* segments up to 2048 bytes */

/* Scratch space for summing packet bytes (the BPF stack is too small for it). */
struct xg_csum_scratch {
  __u8 bytes[XG_CSUM_CHUNK];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xg_csum_scratch);
} xg_scratch SEC(".maps");

/* One's-complement sum (unfolded, memory order) of `len` packet bytes from offset `off`,
 * copied out in chunks so the verifier sees bounded reads. */
static __always_inline int xg_csum_bytes(struct xdp_md* ctx, __u32 off, __u32 len, __u32* out) {
  __u32 zero = 0;
  struct xg_csum_scratch* scratch = bpf_map_lookup_elem(&xg_scratch, &zero);
  if (!scratch || len > XG_CSUM_CHUNK * XG_CSUM_MAX_CHUNKS) return -1;
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < XG_CSUM_MAX_CHUNKS; i++) {
    __u32 done = i * XG_CSUM_CHUNK;
    if (done >= len) break;
    __u32 n = len - done;
    if (n > XG_CSUM_CHUNK) n = XG_CSUM_CHUNK;
    /* An odd tail is summed with zeros after it. */
    __u32 last_word = (n - 1) & (XG_CSUM_CHUNK - 4);
    *(__u32*)(scratch->bytes + last_word) = 0;
    if (bpf_xdp_load_bytes(ctx, off + done, scratch->bytes, n)) return -1;
    __u32 words = last_word + 4;
    if (words > XG_CSUM_CHUNK) return -1;
    sum = bpf_csum_diff(0, 0, (__be32*)scratch->bytes, words, sum);
  }
  *out = sum;
  return 0;
}

/* The pseudo-header sum of the packet's current addresses, protocol and segment length. */
static __always_inline __u32 xg_pseudo_sum(void* l3, void* data_end, __u8 family, __u8 proto,
                                           __u32* seg_len) {
  __u32 sum = 0;
  if (family == XG_FAMILY_V4) {
    struct iphdr* iph = l3;
    if ((void*)(iph + 1) > data_end) return 0;
    *seg_len = bpf_ntohs(iph->tot_len) - sizeof(*iph);
    const __u16* a = (const __u16*)&iph->saddr; /* saddr and daddr: 4 words */
    sum += a[0] + a[1] + a[2] + a[3];
    sum += bpf_htons(proto) + bpf_htons((__u16)*seg_len);
  } else {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return 0;
    *seg_len = bpf_ntohs(ip6->payload_len);
    const __u16* a = (const __u16*)&ip6->saddr; /* saddr and daddr: 16 words */
#pragma unroll
    for (int i = 0; i < 16; i++) sum += a[i];
    sum += bpf_htons(proto) + bpf_htons((__u16)*seg_len);
  }
  return sum;
}

/* The transport checksum field, if the packet has one in use. */
static __always_inline __u16* xg_l4_check_at(void* l4, void* data_end, __u8 family, __u8 proto) {
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return 0;
  __u16* check = l4 + (proto == IPPROTO_TCP ? 16 : 6);
  if ((void*)(check + 1) > data_end) return 0;
  if (proto == IPPROTO_UDP && family == XG_FAMILY_V4 && *check == 0) return 0;
  return check;
}

static __always_inline __u16* xg_l4_check(const struct xg_packet* p, void* data_end) {
  return xg_l4_check_at(p->l4, data_end, p->family, p->proto);
}

/* Completes a partial checksum in place, for the packet whose IP header is at l3 and
 * transport header at l4. Returns 1 if it was partial. */
static __always_inline int xg_complete_partial_at(struct xdp_md* ctx, void* l3, void* l4,
                                                  __u8 family, __u8 proto) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u16* check = xg_l4_check_at(l4, data_end, family, proto);
  if (!check) return 0;
  __u32 seg_len = 0;
  __u32 pseudo = xg_pseudo_sum(l3, data_end, family, proto, &seg_len);
  if (xg_csum_fold(pseudo) != *check) return 0;
  __u32 segment;
  if (xg_csum_bytes(ctx, (__u32)(l4 - data), seg_len, &segment)) return 0;
  if (xg_csum_fold(xg_csum_fold(segment) + xg_csum_fold(pseudo)) == 0xffff) return 0;
  /* The field holds the pseudo-header sum, so the segment's sum is the whole sum. */
  *check = ~xg_csum_fold(segment);
  if (proto == IPPROTO_UDP && *check == 0) *check = 0xffff;
  return 1;
}

static __always_inline int xg_complete_partial(struct xdp_md* ctx, const struct xg_packet* p) {
  return xg_complete_partial_at(ctx, p->l3, p->l4, p->family, p->proto);
}

/* Puts a completed checksum back in partial form (for a packet going to the stack). */
static __always_inline void xg_make_partial(const struct xg_packet* p, void* data_end) {
  __u16* check = xg_l4_check(p, data_end);
  if (!check) return;
  __u32 seg_len = 0;
  *check = xg_csum_fold(xg_pseudo_sum(p->l3, data_end, p->family, p->proto, &seg_len));
}

#endif
