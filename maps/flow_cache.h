/* xg_flow_cache: ARRAY of XG_FLOW_CACHE_SETS sets per possible CPU (key: CPU x sets + set),
 * each CPU's own two-way flow cache in front of xg_conntrack for IPv4 TCP/UDP flows that XDP
 * sends itself (next hop with XG_HOP_XMIT). A set is two slots of one cache line each, picked
 * by a hash of the 5-tuple; a slot holds the flow's key and
 * everything its packets need: the backend address and port with the checksum deltas
 * precomputed, the next hop (out interface, MACs, MTU) and the counter indexes. The
 * connection-table path stays the source of truth: a packet that finds no valid slot goes
 * that way and fills one.
 *
 * A slot is valid while its `gen` equals xg_flow_gen and the tick count is below `expires`
 * (the flow's cached next hop's expiry, maps/nexthop.h: the connection-table path then runs
 * again, refreshing last_seen_ns and the next hop as it always did). xg_flow_gen (one __u32)
 * is moved on by whoever changes what a slot was filled from: the agent after each change of
 * listeners, backends or tables (drain included), and of xg_egress (with xg_egress_gen); a
 * writer of xg_conntrack or xg_backends outside the agent moves it on too. */
#ifndef XGATE_MAPS_FLOW_CACHE_H
#define XGATE_MAPS_FLOW_CACHE_H

#include "maps/common.h"

#define XG_FLOW_CACHE_SET_BITS 12 /* 4,096 sets of two slots: 512 KiB per CPU */
#define XG_FLOW_CACHE_SETS (1u << XG_FLOW_CACHE_SET_BITS)
#define XG_FLOW_CACHE_WAYS 2

struct xg_flow_slot {
  /* the key: the packet's own fields, network order */
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
  __u32 in_ifindex; /* packets arriving here (the next hop was looked up for them) */
  __u8 proto;
  __u8 hop_flags; /* XG_HOP_* (XG_HOP_XMIT always) */
  __u16 mtu;      /* L3 bytes the next hop carries */
  __u32 gen;      /* xg_flow_gen when filled */
  /* the rewrite */
  __be32 to_addr;
  __be16 to_port;
  __u16 l3_csum; /* folded checksum deltas: IPv4 header (address and TTL), transport */
  __u16 l4_csum;
  __u16 listener; /* counter indexes (xg_lstn_stats, xg_bknd_stats) */
  __u16 backend_id;
  __u16 pseudo;  /* the pseudo-header sum without the length, folded: the partial check */
  __u32 ifindex; /* out of here */
  __u8 dmac[6];
  __u8 smac[6];
  __u64 expires; /* bpf_jiffies64() from which the connection-table path runs again */
};

#if XG_MAX_LISTENERS > 65536 || XG_MAX_BACKENDS > 65536
#error "xg_flow_slot keeps listener and backend ids in 16 bits"
#endif

struct xg_flow_set {
  struct xg_flow_slot way[XG_FLOW_CACHE_WAYS];
};

#endif
