/* Per-CPU counters: xg_lstn_stats (per listener), xg_bknd_stats (per backend), xg_path_stats
 * (per enum xg_path) and xg_drop_stats (per enum xg_drop). Userspace sums the CPUs. */
#ifndef XGATE_MAPS_COUNTERS_H
#define XGATE_MAPS_COUNTERS_H

#include "maps/common.h"

struct xg_traffic {
  __u64 packets;
  __u64 bytes;
};

/* What happened to a packet that was not dropped. */
enum xg_path {
  XG_PATH_PASS_NOT_IP = 0,  /* not IPv4/IPv6, or not TCP/UDP/ICMP */
  XG_PATH_PASS_FRAGMENT,    /* IPv4 fragment, IPv4 options or IPv6 extension headers */
  XG_PATH_PASS_NO_LISTENER, /* no listener for (address, port, protocol) */
  XG_PATH_PUNT,             /* L7 listener: up the stack to the proxy */
  XG_PATH_FORWARD,          /* L4: rewritten and sent by XDP (XDP_REDIRECT or XDP_TX) */
  XG_PATH_FORWARD_UP,       /* L4: rewritten by XDP, handed up to TC ingress / the stack */
  XG_PATH_CT_HIT,           /* L4: flow found in xg_conntrack */
  XG_PATH_CT_NEW,           /* L4: new flow recorded */
  XG_PATH_RNAT,             /* TC: reply rewritten to the Gateway address */
  XG_PATH_ICMP_TRANSLATED,  /* ICMP error about a tracked flow rewritten */
  XG_PATH_PARTIAL_CSUM,     /* L4: a partial checksum (local sender, offload) completed */
  XG_PATH_FORWARD_TC,       /* L4: of those handed up, sent on by TC (the rest: the stack) */
  XG_PATH_FORWARD_LOCAL,    /* L4: put straight into a local pod's interface (bpf/local.h) */
  XG_PATH_FLOW_CACHE_HIT,   /* L4: of the conntrack hits, served from xg_flow_cache */
  XG_PATH_MAX,
};

enum xg_drop {
  XG_DROP_TRUNCATED = 0, /* headers shorter than they claim */
  XG_DROP_NO_BACKEND,    /* L4 listener with an empty or missing table */
  XG_DROP_BAD_BACKEND,   /* table points at a freed backend id */
  XG_DROP_CT_FULL,       /* could not record the flow */
  XG_DROP_MAX,
};

#endif
