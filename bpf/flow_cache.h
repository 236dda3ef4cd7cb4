/* The per-CPU flow cache (maps/flow_cache.h): an established IPv4 TCP/UDP flow that XDP sends
 * itself is served with one array lookup, before any other parsing: the key compared, the
 * rewrite applied with the checksum deltas computed when the slot was filled, TTL, MACs,
 * counters, redirect. Anything the slot cannot answer for this packet (another flow in the
 * set, a generation or next hop gone stale, a packet bigger than the route's MTU, TTL 1, IP
 * options, VLAN, IPv6, ICMP) takes the connection-table path, which fills the slot. */
#ifndef XGATE_BPF_FLOW_CACHE_H
#define XGATE_BPF_FLOW_CACHE_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/csum.h"
#include "bpf/maps.bpf.h"
#include "bpf/nat.h"
#include "bpf/parsing.h"
#include "bpf/partial_csum.h"
// clang-format on

#define XG_FLOW_CACHE_MISS -1

_Static_assert(sizeof(struct xg_flow_slot) == 64, "a flow cache slot is one cache line");

/* The IPv4 checksum delta of TTL - 1: the (TTL, protocol) word, read in memory order, drops
 * by the TTL byte's weight (xg_decrement_ttl's delta for any TTL above 1). */
#define XG_TTL_DEC_DELTA (0xffffu - bpf_htons(0x0100))

static __always_inline __u32 xg_flow_gen_now(void) {
  __u32 zero = 0;
  __u32* gen = bpf_map_lookup_elem(&xg_flow_gen, &zero);
  return gen ? *gen : 0;
}

/* The set of a flow: a multiplicative hash of its addresses and ports (network order). */
static __always_inline __u32 xg_flow_set_of(__be32 saddr, __be32 daddr, __u32 ports) {
  __u32 h = (saddr ^ ports) * 0x9E3779B1u;
  h = (h ^ daddr) * 0x85EBCA6Bu;
  return h >> (32 - XG_FLOW_CACHE_SET_BITS);
}

/* This CPU's copy of the set (the map holds one range of sets per CPU). */
static __always_inline struct xg_flow_set* xg_flow_set_here(__u32 set) {
  __u32 key = bpf_get_smp_processor_id() * XG_FLOW_CACHE_SETS + set;
  return bpf_map_lookup_elem(&xg_flow_cache, &key);
}

static __always_inline __u32 xg_ports_word(const __be16* two) {
  __u32 w;
  __builtin_memcpy(&w, two, 4);
  return w;
}

static __always_inline int xg_flow_slot_is(const struct xg_flow_slot* s, __be32 saddr, __be32 daddr,
                                           __u32 ports, __u8 proto, __u32 in, __u32 gen) {
  return s->saddr == saddr && s->daddr == daddr && xg_ports_word(&s->sport) == ports &&
         s->proto == proto && s->in_ifindex == in && s->gen == gen;
}

/* Serves the packet from the flow cache: the XDP verdict, or XG_FLOW_CACHE_MISS (nothing
 * written to the packet) for the connection-table path. */
static __always_inline int xg_flow_cache_serve(struct xdp_md* ctx, __u32 gen, __u64 ticks) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = (void*)(eth + 1);
  __be16* ports = (void*)(iph + 1);
  if ((void*)(ports + 4) > data_end) return XG_FLOW_CACHE_MISS;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || *(__u8*)iph != 0x45 ||
      (iph->frag_off & bpf_htons(XG_IP_MF | XG_IP_OFFSET)))
    return XG_FLOW_CACHE_MISS;
  __u8 proto = iph->protocol;
  if (proto == IPPROTO_TCP) {
    if ((void*)ports + sizeof(struct tcphdr) > data_end) return XG_FLOW_CACHE_MISS;
  } else if (proto != IPPROTO_UDP) {
    return XG_FLOW_CACHE_MISS;
  }
  const __u32 pw = xg_ports_word(ports);
  const __u32 in = ctx->ingress_ifindex;
  __u32 set = xg_flow_set_of(iph->saddr, iph->daddr, pw);
  struct xg_flow_set* fs = xg_flow_set_here(set);
  if (!fs) return XG_FLOW_CACHE_MISS;
  struct xg_flow_slot* s = &fs->way[0];
  if (!xg_flow_slot_is(s, iph->saddr, iph->daddr, pw, proto, in, gen)) {
    s = &fs->way[1];
    if (!xg_flow_slot_is(s, iph->saddr, iph->daddr, pw, proto, in, gen)) return XG_FLOW_CACHE_MISS;
  }
  const __u8 ttl = iph->ttl;
  const __u16 l3_len = bpf_ntohs(iph->tot_len);
  if (ticks >= s->expires || l3_len > s->mtu || ttl <= 1) return XG_FLOW_CACHE_MISS;
  __u16* check;
  if (proto == IPPROTO_TCP) {
    struct tcphdr* th = (void*)ports;
    if ((void*)(th + 1) > data_end) return XG_FLOW_CACHE_MISS;
    check = &th->check;
  } else {
    struct udphdr* uh = (void*)ports;
    if ((void*)(uh + 1) > data_end) return XG_FLOW_CACHE_MISS;
    check = &uh->check;
  }

  /* From here on the packet is served, as the connection-table path serves it (the frame
   * that leaves is the same). A partial checksum (partial_csum.h) is told by its field
   * equalling the pseudo-header sum: the slot has that sum but for the length. */
  __u64 len = data_end - data;
  const int no_udp_sum = proto == IPPROTO_UDP && *check == 0;
  if (!no_udp_sum &&
      xg_csum_fold(s->pseudo + bpf_htons((__u16)(l3_len - sizeof(*iph)))) == *check &&
      xg_complete_partial_at(ctx, iph, ports, XG_FAMILY_V4, proto))
    xg_count(&xg_path_stats, XG_PATH_PARTIAL_CSUM, len);
  iph->ttl = ttl - 1;
  xg_csum_apply(&iph->check, s->l3_csum);
  iph->daddr = s->to_addr;
  ports[1] = s->to_port;
  if (!no_udp_sum) {
    xg_csum_apply(check, s->l4_csum);
    if (proto == IPPROTO_UDP && *check == 0) *check = 0xffff;
  }
  /* Both MACs as 16-bit words (clang copies bytes one by one at the 1-byte alignment). */
  __u16* to_mac = (__u16*)eth;
  const __u16* from_mac = (const __u16*)s->dmac;
#pragma unroll
  for (int i = 0; i < ETH_ALEN; i++) to_mac[i] = from_mac[i];
  xg_count(&xg_path_stats, XG_PATH_CT_HIT, len);
  xg_count(&xg_path_stats, XG_PATH_FLOW_CACHE_HIT, len);
  xg_count(&xg_lstn_stats, s->listener, len);
  xg_count(&xg_bknd_stats, s->backend_id, len);
  xg_count(&xg_path_stats, s->hop_flags & XG_HOP_LOCAL ? XG_PATH_FORWARD_LOCAL : XG_PATH_FORWARD,
           len);
  if (s->ifindex == in) return XDP_TX;
  return bpf_redirect(s->ifindex, 0);
}

/* A slot that no packet can use any more (or never filled). */
static __always_inline int xg_flow_slot_stale(const struct xg_flow_slot* s, __u32 gen,
                                              __u64 ticks) {
  return s->gen != gen || ticks >= s->expires;
}

/* Fills the flow's slot from the connection-table path's answer: its entry `ct` and the next
 * hop `hop` this packet is sent to. `gen` is xg_flow_gen as read before `ct` was looked up,
 * so a change the agent made meanwhile leaves the slot stale. Only flows XDP sends itself. */
static __always_inline void xg_flow_cache_fill(const struct xdp_md* ctx, const struct xg_packet* p,
                                               const struct xg_ct_entry* ct,
                                               const struct xg_nexthop* hop, __u32 gen,
                                               __u64 ticks) {
  if (!hop || !(hop->flags & XG_HOP_XMIT) || p->vlan || p->family != XG_FAMILY_V4 ||
      (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP) || ticks >= hop->expires)
    return;
  struct xg_flow_slot s;
  __builtin_memset(&s, 0, sizeof(s));
  __builtin_memcpy(&s.saddr, p->src + 12, 4);
  __builtin_memcpy(&s.daddr, p->dst + 12, 4);
  s.sport = bpf_htons(p->sport);
  s.dport = bpf_htons(p->dport);
  s.in_ifindex = ctx->ingress_ifindex;
  s.proto = p->proto;
  s.hop_flags = hop->flags;
  s.mtu = hop->mtu;
  s.gen = gen;
  __builtin_memcpy(&s.to_addr, ct->backend_addr + 12, 4);
  s.to_port = bpf_htons(ct->backend_port);
  /* As xg_rewrite and xg_decrement_ttl compute them for each of the flow's packets: the
   * same sums, so the same checksums (one's-complement sums folded at another step differ
   * only in how they write zero, which a nonzero sum never is). */
  __u32 l3_delta = xg_csum_delta_addr(0, (const __u8*)&s.daddr, (const __u8*)&s.to_addr, 4);
  s.l3_csum = xg_csum_fold(l3_delta + XG_TTL_DEC_DELTA);
  s.l4_csum = xg_csum_fold(xg_csum_delta16(l3_delta, s.dport, s.to_port));
  const __u16* a = (const __u16*)&s.saddr; /* saddr and daddr: 4 words */
  s.pseudo = xg_csum_fold(a[0] + a[1] + a[2] + a[3] + bpf_htons(p->proto));
  s.listener = (__u16)ct->listener;
  s.backend_id = (__u16)ct->backend_id;
  s.ifindex = hop->ifindex;
  __builtin_memcpy(s.dmac, hop->dmac, ETH_ALEN);
  __builtin_memcpy(s.smac, hop->smac, ETH_ALEN);
  s.expires = hop->expires;

  const __u32 pw = xg_ports_word(&s.sport);
  __u32 set = xg_flow_set_of(s.saddr, s.daddr, pw);
  struct xg_flow_set* fs = xg_flow_set_here(set);
  if (!fs) return;
  /* The flow's own slot, else a stale one, else either. */
  __u32 way = 0;
  if (xg_flow_slot_is(&fs->way[0], s.saddr, s.daddr, pw, s.proto, s.in_ifindex, s.gen))
    way = 0;
  else if (xg_flow_slot_is(&fs->way[1], s.saddr, s.daddr, pw, s.proto, s.in_ifindex, s.gen))
    way = 1;
  else if (xg_flow_slot_stale(&fs->way[0], gen, ticks))
    way = 0;
  else if (xg_flow_slot_stale(&fs->way[1], gen, ticks))
    way = 1;
  else
    way = bpf_get_prandom_u32() & 1;
  fs->way[way & 1] = s;
}

#endif
