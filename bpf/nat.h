/* Address and port rewriting with incremental checksums, on packets the program may write
 * directly (XDP, and TC for ICMP): DNAT toward a backend, the reverse for replies, and the
 * same for the packet quoted inside an ICMP error. */
#ifndef XGATE_BPF_NAT_H
#define XGATE_BPF_NAT_H

#include "bpf/csum.h"
#include "bpf/parsing.h"

enum xg_side { XG_SRC = 0, XG_DST = 1 };

/* Offset of the transport checksum from the L4 header, by protocol. */
static __always_inline int xg_l4_csum_offset(__u8 proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return 16;
    case IPPROTO_UDP:
      return 6;
    default:
      return 2; /* ICMP, ICMPv6 */
  }
}

/* Rewrites one side (source or destination) of the IP packet at l3 with transport header at
 * l4 to addr (16 bytes, v4-mapped for IPv4) and port (host order, ignored for ICMP). The
 * transport checksum is updated when it is inside the packet (`l4_csum_ok`); an IPv4 UDP
 * checksum of 0 (none) stays 0. Returns the one's-complement delta of every byte changed,
 * which the checksum of an enclosing ICMP error needs. */
static __always_inline __u32 xg_rewrite(void* l3, void* l4, void* data_end, __u8 family, __u8 proto,
                                        int side, const __u8* addr, __u16 port) {
  __u32 l3_delta = 0; /* the pseudo-header part, for the transport checksum */
  __u32 changed = 0;  /* every changed 16-bit word, for an enclosing ICMP checksum */
  if (family == XG_FAMILY_V4) {
    struct iphdr* iph = l3;
    if ((void*)(iph + 1) > data_end) return 0;
    __be32* field = side == XG_SRC ? &iph->saddr : &iph->daddr;
    __be32 to = *(const __be32*)(addr + 12);
    l3_delta = xg_csum_delta_addr(0, (const __u8*)field, (const __u8*)&to, 4);
    __u16 old_check = iph->check;
    xg_csum_apply(&iph->check, l3_delta);
    *field = to;
    changed = xg_csum_delta16(l3_delta, old_check, iph->check);
  } else {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return 0;
    __u8* field = side == XG_SRC ? (__u8*)&ip6->saddr : (__u8*)&ip6->daddr;
    l3_delta = xg_csum_delta_addr(0, field, addr, 16);
    __builtin_memcpy(field, addr, 16);
    changed = l3_delta;
  }

  __u32 l4_delta = l3_delta;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    /* Ports are the first 4 bytes of both headers; the caller checked 8 bytes are there. */
    if (l4 + 8 > data_end) return changed;
    __be16* ports = l4;
    __be16 to_port = bpf_htons(port);
    __be16 from_port = ports[side];
    ports[side] = to_port;
    l4_delta = xg_csum_delta16(l4_delta, from_port, to_port);
    changed = xg_csum_delta16(changed, from_port, to_port);
  } else if (family == XG_FAMILY_V4) {
    return changed; /* ICMPv4 has no pseudo-header */
  }

  int off = xg_l4_csum_offset(proto);
  __u16* check = l4 + off;
  if ((void*)(check + 1) > data_end) return changed; /* quoted packet cut short */
  __u16 old = *check;
  if (proto == IPPROTO_UDP && family == XG_FAMILY_V4 && old == 0) return changed;
  xg_csum_apply(check, l4_delta);
  if (proto == IPPROTO_UDP && *check == 0) *check = 0xffff;
  return xg_csum_delta16(changed, old, *check);
}

/* The packet quoted by an ICMP error (destination unreachable incl. fragmentation needed,
 * time exceeded, IPv6 packet too big): its IP header and first 8 transport bytes. */
struct xg_quoted {
  void* l3;
  void* l4;
  __u8 proto;
  __u16 sport;
  __u16 dport;
  __u8 src[16] __attribute__((aligned(4)));
  __u8 dst[16] __attribute__((aligned(4)));
};

static __always_inline int xg_is_icmp_error(const struct xg_packet* p, void* data_end) {
  __u8* type = p->l4;
  if ((void*)(type + 1) > data_end) return 0;
  if (p->family == XG_FAMILY_V4)
    return *type == XG_ICMP_DEST_UNREACH || *type == XG_ICMP_TIME_EXCEEDED;
  return *type == XG_ICMPV6_DEST_UNREACH || *type == XG_ICMPV6_PKT_TOOBIG ||
         *type == XG_ICMPV6_TIME_EXCEED;
}

static __always_inline int xg_parse_quoted(const struct xg_packet* p, void* data_end,
                                           struct xg_quoted* q) {
  void* l3 = p->l4 + 8;
  q->l3 = l3;
  if (p->family == XG_FAMILY_V4) {
    struct iphdr* iph = l3;
    if ((void*)(iph + 1) > data_end || iph->ihl != 5) return -1;
    q->proto = iph->protocol;
    xg_v4_mapped(q->src, iph->saddr);
    xg_v4_mapped(q->dst, iph->daddr);
    q->l4 = iph + 1;
  } else {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return -1;
    q->proto = ip6->nexthdr;
    __builtin_memcpy(q->src, &ip6->saddr, 16);
    __builtin_memcpy(q->dst, &ip6->daddr, 16);
    q->l4 = ip6 + 1;
  }
  if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP) return -1;
  __be16* ports = q->l4;
  if ((void*)(ports + 4) > data_end) return -1;
  q->sport = bpf_ntohs(ports[0]);
  q->dport = bpf_ntohs(ports[1]);
  return 0;
}

/* Rewrites one side of the quoted packet and fixes the ICMP error's own checksum. */
static __always_inline void xg_rewrite_quoted(const struct xg_packet* p, struct xg_quoted* q,
                                              void* data_end, int side, const __u8* addr,
                                              __u16 port) {
  __u32 changed = xg_rewrite(q->l3, q->l4, data_end, p->family, q->proto, side, addr, port);
  __u16* check = p->l4 + 2;
  if ((void*)(check + 1) > data_end) return;
  xg_csum_apply(check, changed);
}

/* Decrements TTL / hop limit. Returns -1 when it would reach 0 (the stack then answers with
 * time exceeded). */
static __always_inline int xg_decrement_ttl(void* l3, void* data_end, __u8 family) {
  if (family == XG_FAMILY_V4) {
    struct iphdr* iph = l3;
    if ((void*)(iph + 1) > data_end || iph->ttl <= 1) return -1;
    __u16* word = (__u16*)&iph->ttl; /* ttl and protocol */
    __u16 old = *word;
    iph->ttl--;
    xg_csum_apply(&iph->check, xg_csum_delta16(0, old, *word));
    return 0;
  }
  struct ipv6hdr* ip6 = l3;
  if ((void*)(ip6 + 1) > data_end || ip6->hop_limit <= 1) return -1;
  ip6->hop_limit--;
  return 0;
}

#endif
