/* Sending a rewritten packet on: next hop (a connection's cached FIB answer, else
 * bpf_fib_lookup), TTL/hop limit, MAC rewrite and redirect (XDP), or redirect with neighbour
 * resolution (TC). Where the lookup cannot finish, the stack routes the already rewritten
 * packet. */
#ifndef XGATE_BPF_FORWARD_H
#define XGATE_BPF_FORWARD_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/pkt_cls.h>

#include "bpf/local.h"
#include "bpf/maps.bpf.h"
#include "bpf/nat.h"
#include "bpf/partial_csum.h"
// clang-format on

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Fills the lookup from the packet's (rewritten) headers. 0 on success. */
static __always_inline int xg_fib_params(void* l3, void* l4, void* data_end, __u8 family,
                                         __u8 proto, __u32 ifindex, struct bpf_fib_lookup* fib) {
  __builtin_memset(fib, 0, sizeof(*fib));
  fib->ifindex = ifindex;
  fib->l4_protocol = proto;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    __be16* ports = l4;
    if ((void*)(ports + 2) > data_end) return -1;
    fib->sport = ports[0];
    fib->dport = ports[1];
  }
  if (family == XG_FAMILY_V4) {
    struct iphdr* iph = l3;
    if ((void*)(iph + 1) > data_end) return -1;
    fib->family = AF_INET;
    fib->tos = iph->tos;
    fib->tot_len = bpf_ntohs(iph->tot_len);
    fib->ipv4_src = iph->saddr;
    fib->ipv4_dst = iph->daddr;
  } else {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return -1;
    fib->family = AF_INET6;
    fib->flowinfo = *(__be32*)ip6 & bpf_htonl(0x0FFFFFFF);
    fib->tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
    __builtin_memcpy(fib->ipv6_src, &ip6->saddr, 16);
    __builtin_memcpy(fib->ipv6_dst, &ip6->daddr, 16);
  }
  return 0;
}

/* The next hop toward `backend` for the (rewritten) packet: `cache` (a connection's, may be
 * NULL) while it stands for this packet, else the backend's local pod record or
 * bpf_fib_lookup's answer, written to `fresh` and into the cache. NULL when the FIB cannot
 * finish (no neighbour, too big, local...): the stack is to route the packet. */
static __always_inline const struct xg_nexthop* xg_next_hop(struct xdp_md* ctx, struct xg_packet* p,
                                                            const __u8* backend,
                                                            struct xg_nexthop* cache, __u64 ticks,
                                                            struct xg_nexthop* fresh) {
  __u32 in = ctx->ingress_ifindex;
  __u32 zero = 0;
  __u32* gen = bpf_map_lookup_elem(&xg_egress_gen, &zero);
  __u8 egress_gen = gen ? (__u8)*gen : 0;
  if (cache && cache->ifindex && cache->in_ifindex == in && ticks < cache->expires &&
      p->l3_len <= cache->mtu && cache->egress_gen == egress_gen)
    return cache;
  __builtin_memset(fresh, 0, sizeof(*fresh));
  const struct xg_local_pod* pod = xg_local_pod_of(backend);
  if (pod) {
    xg_local_hop(pod, fresh);
  } else {
    void* data_end = (void*)(long)ctx->data_end;
    struct bpf_fib_lookup fib;
    if (xg_fib_params(p->l3, p->l4, data_end, p->family, p->proto, in, &fib)) return NULL;
    if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS) return NULL;
    fresh->ifindex = fib.ifindex;
    /* The route's MTU on success (kernels since 5.14); before, the packet's own length. */
    fresh->mtu = fib.mtu_result;
    __builtin_memcpy(fresh->dmac, fib.dmac, ETH_ALEN);
    __builtin_memcpy(fresh->smac, fib.smac, ETH_ALEN);
    fresh->flags = fib.ifindex == in || xg_egress_takes_xdp(fib.ifindex) ? XG_HOP_XMIT : 0;
  }
  fresh->expires = ticks + XG_NH_TTL_TICKS;
  fresh->in_ifindex = in;
  fresh->egress_gen = egress_gen;
  if (cache) *cache = *fresh;
  return fresh;
}

/* Sends the rewritten packet on: by XDP to `hop` (TTL decremented, MACs set) when its device
 * takes redirected frames; else up, where TC ingress sends it (xg_tc_rnat: bpf_redirect_neigh,
 * which resolves a missing neighbour too) or, failing that, the stack routes it.
 * `partial`: the packet came with a partial checksum that was completed (partial_csum.h); if
 * it goes up, it is put back in partial form. */
static __always_inline int xg_xdp_send(struct xdp_md* ctx, struct xg_packet* p, __u64 len,
                                       int partial, const struct xg_nexthop* hop) {
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = (void*)(long)ctx->data;
  /* A tagged frame belongs to a VLAN device the stack knows; let it route. */
  if (!hop || !(hop->flags & XG_HOP_XMIT) || p->vlan || (void*)(eth + 1) > data_end ||
      xg_decrement_ttl(p->l3, data_end, p->family))
    goto up;
  /* Opaque to clang, which would otherwise derive one MAC's stack address from the other's
   * with a bitwise OR (alignment arithmetic the verifier refuses on a pointer). */
  const __u8* macs = hop->dmac;
  asm volatile("" : "+r"(macs));
  __builtin_memcpy(eth->h_dest, macs, ETH_ALEN);
  __builtin_memcpy(eth->h_source, macs + ETH_ALEN, ETH_ALEN);
  xg_count(&xg_path_stats, hop->flags & XG_HOP_LOCAL ? XG_PATH_FORWARD_LOCAL : XG_PATH_FORWARD,
           len);
  if (hop->ifindex == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(hop->ifindex, 0);
up:
  if (partial) xg_make_partial(p, data_end);
  xg_count(&xg_path_stats, XG_PATH_FORWARD_UP, len);
  return XDP_PASS;
}

/* Next hop toward `backend` (through `cache` when given) and send. */
static __always_inline int xg_xdp_forward(struct xdp_md* ctx, struct xg_packet* p, __u64 len,
                                          int partial, const __u8* backend,
                                          struct xg_nexthop* cache, __u64 ticks) {
  struct xg_nexthop fresh;
  const struct xg_nexthop* hop =
      p->vlan ? NULL : xg_next_hop(ctx, p, backend, cache, ticks, &fresh);
  return xg_xdp_send(ctx, p, len, partial, hop);
}

/* TC: `redirect` (ingress on the backend side) sends the packet straight out toward the
 * client with bpf_redirect_neigh, so the stack never sees a packet from its own address;
 * otherwise (egress) the packet just continues. l3_off is the IP header's offset. */
static __always_inline int xg_tc_forward(struct __sk_buff* skb, __u32 l3_off, __u32 l4_off,
                                         __u8 family, __u8 proto, int redirect) {
  if (!redirect) return TC_ACT_OK;
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  /* Offsets are at most 18 and 58; the masks keep the verifier's bounds through the copies. */
  l3_off &= 0x3f;
  l4_off &= 0x7f;
  void* l3 = data + l3_off;
  void* l4 = data + l4_off;
  struct bpf_fib_lookup fib;
  if (xg_fib_params(l3, l4, data_end, family, proto, skb->ingress_ifindex, &fib)) return TC_ACT_OK;
  int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
  if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) return TC_ACT_OK;
  data = (void*)(long)skb->data;
  data_end = (void*)(long)skb->data_end;
  if (xg_decrement_ttl(data + l3_off, data_end, family)) return TC_ACT_OK;
  return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

#endif
