/* Parsing for the steer program: Ethernet (at most one VLAN tag), IPv4 (options allowed, no
 * fragments) or IPv6 (no extension headers), TCP. Gives the socket lookup tuple and the
 * xg_steer_targets key. */
#ifndef XGATE_BPF_STEER_H
#define XGATE_BPF_STEER_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps/steer.h"
// clang-format on

#define XG_STEER_IP_FRAGMENT 0x3FFF /* MF flag or a fragment offset */
/* The most header bytes the parser reads: Ethernet, VLAN, IPv4 with options, TCP. */
#define XG_STEER_HEADROOM (ETH_HLEN + 4 + 60 + 20)

struct xg_steer_vlan {
  __be16 tci;
  __be16 encap_proto;
};

struct xg_steer_packet {
  struct bpf_sock_tuple tuple; /* network order, as the socket lookup helpers want */
  struct xg_steer_key key;
  __u8 ipv6;
};

/* 0 when the packet is TCP over IPv4/IPv6 and `p` is filled. */
static __always_inline int xg_steer_parse(struct __sk_buff* skb, struct xg_steer_packet* p) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return -1;
  __be16 proto = eth->h_proto;
  void* l3 = eth + 1;
  if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
    struct xg_steer_vlan* vlan = l3;
    if ((void*)(vlan + 1) > data_end) return -1;
    proto = vlan->encap_proto;
    l3 = vlan + 1;
  }
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return -1;
    if (ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(XG_STEER_IP_FRAGMENT))) return -1;
    __u32 ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip)) return -1;
    struct tcphdr* tcp = l3 + ihl;
    if ((void*)(tcp + 1) > data_end) return -1;
    p->tuple.ipv4.saddr = ip->saddr;
    p->tuple.ipv4.daddr = ip->daddr;
    p->tuple.ipv4.sport = tcp->source;
    p->tuple.ipv4.dport = tcp->dest;
    p->key.addr[10] = 0xff;
    p->key.addr[11] = 0xff;
    __builtin_memcpy(p->key.addr + 12, &ip->daddr, 4);
    p->key.port = bpf_ntohs(tcp->dest);
    p->ipv6 = 0;
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return -1;
    if (ip6->nexthdr != IPPROTO_TCP) return -1;
    struct tcphdr* tcp = (void*)(ip6 + 1);
    if ((void*)(tcp + 1) > data_end) return -1;
    __builtin_memcpy(p->tuple.ipv6.saddr, &ip6->saddr, 16);
    __builtin_memcpy(p->tuple.ipv6.daddr, &ip6->daddr, 16);
    p->tuple.ipv6.sport = tcp->source;
    p->tuple.ipv6.dport = tcp->dest;
    __builtin_memcpy(p->key.addr, &ip6->daddr, 16);
    p->key.port = bpf_ntohs(tcp->dest);
    p->ipv6 = 1;
  } else {
    return -1;
  }
  return 0;
}

#endif
