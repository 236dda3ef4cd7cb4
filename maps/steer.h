/* The steering of punted traffic to the proxy (bpf/steer.bpf.c): which (Gateway address,
 * TCP port) the TC program hands to the proxy's socket with bpf_sk_assign, what happened to
 * those packets, and the mark and policy route that make the kernel deliver them locally. */
#ifndef XGATE_MAPS_STEER_H
#define XGATE_MAPS_STEER_H

#include "maps/common.h"

#define XG_MAX_STEER_TARGETS XG_MAX_LISTENERS

/* xg_steer_targets: an L7 listener's address that is not an address of the node. */
struct xg_steer_key {
  __u8 addr[16] XG_ADDR_ALIGN; /* v4-mapped or IPv6, network order */
  __u16 port;                  /* host order */
  __u16 pad;
};

struct xg_steer_value {
  __u32 flags; /* reserved, 0 */
};

/* xg_steer_socks (sockmap): the proxy's listening socket per family, which a new connection
 * to any steered (address, port) is assigned to. The proxy listens on a loopback address and a
 * port of the kernel's choosing (127.0.0.1 / ::1, transparent), so it takes no port of the
 * node's addresses; the accepted connection still has the Gateway address as its own. The
 * proxy puts its sockets here itself; a closed socket leaves the map by itself. */
enum xg_steer_sock_slot {
  XG_STEER_SOCK_IPV4 = 0,
  XG_STEER_SOCK_IPV6 = 1,
  XG_STEER_SOCK_SLOTS,
};

/* xg_steer_stats (per-CPU array of struct xg_traffic) indexes. */
enum xg_steer_result {
  XG_STEER_LISTENER = 0, /* assigned to the proxy's listener from xg_steer_socks (new connection) */
  XG_STEER_ESTABLISHED,  /* assigned to the connection's own socket */
  XG_STEER_NO_SOCKET,    /* no connection and no proxy listener in xg_steer_socks: dropped */
  XG_STEER_ASSIGN_FAILED, /* bpf_sk_assign refused the socket: dropped */
  XG_STEER_MAX,
};

/* The mark steered packets carry, and the policy route that delivers marked packets locally:
 *   ip rule add pref XG_STEER_RULE_PREF fwmark XG_STEER_MARK lookup XG_STEER_TABLE
 *   ip route add local 0.0.0.0/0 dev lo table XG_STEER_TABLE   (and ::/0 for IPv6)
 * The mark uses bits 19-22, clear of Cilium's 0x0F00 mask (its proxy mark 0x200 and tables
 * 2004/2005), kube-proxy's 0x4000/0x8000 and Istio's 0x539; the table is "xg" in ASCII.
 * The rule matches the whole mark value, so other bits set by someone else never match. */
#define XG_STEER_MARK 0x00780000
#define XG_STEER_TABLE 30823
#define XG_STEER_RULE_PREF 20

#endif
