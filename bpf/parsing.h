/* Header parsing: Ethernet with at most one VLAN tag, IPv4 without options or fragments,
 * IPv6 without extension headers, then TCP, UDP or ICMP/ICMPv6. */
#ifndef XGATE_BPF_PARSING_H
#define XGATE_BPF_PARSING_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps/common.h"
#include "maps/conntrack.h"
// clang-format on

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
/* ICMP types (linux/icmp.h pulls in libc headers). */
#define XG_ICMP_DEST_UNREACH 3
#define XG_ICMP_TIME_EXCEEDED 11
#define XG_ICMPV6_DEST_UNREACH 1
#define XG_ICMPV6_PKT_TOOBIG 2
#define XG_ICMPV6_TIME_EXCEED 3
#define XG_IP_MF 0x2000
#define XG_IP_OFFSET 0x1FFF

struct xg_vlan_hdr {
  __be16 tci;
  __be16 encap_proto;
};

enum xg_parse_result {
  XG_PARSE_OK = 0,
  XG_PARSE_NOT_IP,   /* not IP, or not TCP/UDP/ICMP */
  XG_PARSE_FRAGMENT, /* IPv4 fragment or options, IPv6 extension header */
  XG_PARSE_TRUNCATED,
};

/* Where the headers are and what they say. Addresses are copied (16 bytes, v4-mapped for
 * IPv4); ports are host order and 0 for ICMP. The addresses, ports and protocol are laid
 * out as a connection-table key (`flow`), so a packet's own fields are its key. */
struct xg_packet {
  struct ethhdr* eth;
  void* l3;
  void* l4;
  __u8 family;  /* XG_FAMILY_V4 / XG_FAMILY_V6 */
  __u8 vlan;    /* carried one VLAN tag */
  __u16 l3_len; /* bytes of the IP packet per its header */
  union {
    struct xg_flow flow;
    struct {
      __u8 src[16] XG_ADDR_ALIGN;
      __u8 dst[16] XG_ADDR_ALIGN;
      __u16 sport;
      __u16 dport;
      __u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP or IPPROTO_ICMPV6 */
    };
  };
};
_Static_assert(__builtin_offsetof(struct xg_flow, proto) == 36 && sizeof(struct xg_flow) == 40,
               "xg_packet's flow fields mirror struct xg_flow");

static __always_inline void xg_v4_mapped(__u8* out, __be32 addr) {
  __u32* w = (__u32*)out;
  w[0] = 0;
  w[1] = 0;
  w[2] = bpf_htonl(0x0000ffff);
  w[3] = addr;
}

/* Reads the TCP/UDP ports at l4 into p; ICMP has none. */
static __always_inline int xg_parse_l4(void* data_end, struct xg_packet* p) {
  void* l4 = p->l4;
  if (p->proto == IPPROTO_TCP) {
    struct tcphdr* th = l4;
    if ((void*)(th + 1) > data_end) return XG_PARSE_TRUNCATED;
    p->sport = bpf_ntohs(th->source);
    p->dport = bpf_ntohs(th->dest);
    return XG_PARSE_OK;
  }
  if (p->proto == IPPROTO_UDP) {
    struct udphdr* uh = l4;
    if ((void*)(uh + 1) > data_end) return XG_PARSE_TRUNCATED;
    p->sport = bpf_ntohs(uh->source);
    p->dport = bpf_ntohs(uh->dest);
    return XG_PARSE_OK;
  }
  if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
    /* type, code, checksum and the 4 bytes after them */
    if (l4 + 8 > data_end) return XG_PARSE_TRUNCATED;
    p->sport = 0;
    p->dport = 0;
    return XG_PARSE_OK;
  }
  return XG_PARSE_NOT_IP;
}

static __always_inline int xg_parse(void* data, void* data_end, struct xg_packet* p) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XG_PARSE_NOT_IP;
  p->eth = eth;
  void* cursor = eth + 1;
  __u16 proto = bpf_ntohs(eth->h_proto);
  if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
    struct xg_vlan_hdr* vh = cursor;
    if ((void*)(vh + 1) > data_end) return XG_PARSE_NOT_IP;
    proto = bpf_ntohs(vh->encap_proto);
    cursor = vh + 1;
    p->vlan = 1;
  }
  p->l3 = cursor;
  if (proto == ETH_P_IP) {
    struct iphdr* iph = cursor;
    if ((void*)(iph + 1) > data_end) return XG_PARSE_TRUNCATED;
    if (iph->ihl != 5) return XG_PARSE_FRAGMENT;
    if (iph->frag_off & bpf_htons(XG_IP_MF | XG_IP_OFFSET)) return XG_PARSE_FRAGMENT;
    p->family = XG_FAMILY_V4;
    p->proto = iph->protocol;
    p->l3_len = bpf_ntohs(iph->tot_len);
    xg_v4_mapped(p->src, iph->saddr);
    xg_v4_mapped(p->dst, iph->daddr);
    p->l4 = iph + 1;
  } else if (proto == ETH_P_IPV6) {
    struct ipv6hdr* ip6 = cursor;
    if ((void*)(ip6 + 1) > data_end) return XG_PARSE_TRUNCATED;
    __u8 next = ip6->nexthdr;
    if (next != IPPROTO_TCP && next != IPPROTO_UDP && next != IPPROTO_ICMPV6) {
      return (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_FRAGMENT ||
              next == IPPROTO_DSTOPTS)
                 ? XG_PARSE_FRAGMENT
                 : XG_PARSE_NOT_IP;
    }
    p->family = XG_FAMILY_V6;
    p->proto = next;
    p->l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
    __builtin_memcpy(p->src, &ip6->saddr, 16);
    __builtin_memcpy(p->dst, &ip6->daddr, 16);
    p->l4 = ip6 + 1;
  } else {
    return XG_PARSE_NOT_IP;
  }
  if (p->family == XG_FAMILY_V4 && p->proto == IPPROTO_ICMPV6) return XG_PARSE_NOT_IP;
  if (p->family == XG_FAMILY_V6 && p->proto == IPPROTO_ICMP) return XG_PARSE_NOT_IP;
  return xg_parse_l4(data_end, p);
}

#endif
