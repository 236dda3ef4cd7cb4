/* Backends on this node (maps/local_pod.h): a packet rewritten toward a pod's address is put
 * straight into the pod's host-side interface, by XDP_REDIRECT where the device takes
 * redirected frames (its peer has NAPI), else by TC ingress with bpf_redirect, which any veth
 * takes. No FIB or neighbour lookup: the agent wrote the interface and both MACs, and XDP
 * caches them in the connection as its next hop (bpf/forward.h). */
#ifndef XGATE_BPF_LOCAL_H
#define XGATE_BPF_LOCAL_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/maps.bpf.h"
#include "bpf/nat.h"
#include "maps/egress.h"
#include "maps/nexthop.h"
#include "maps/local_pod.h"
// clang-format on

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XG_MAX_LOCAL_PODS);
  __type(key, struct xg_local_pod_key);
  __type(value, struct xg_local_pod);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_local_pods SEC(".maps");

static __always_inline const struct xg_local_pod* xg_local_pod_of(const __u8* addr) {
  struct xg_local_pod_key key;
  __builtin_memcpy(key.addr, addr, 16);
  return bpf_map_lookup_elem(&xg_local_pods, &key);
}

/* The pod's interface as a next hop (maps/nexthop.h), for the connection to cache. */
static __always_inline void xg_local_hop(const struct xg_local_pod* pod, struct xg_nexthop* hop) {
  hop->ifindex = pod->ifindex;
  hop->mtu = 0xffff; /* the pod's own MTU answers for what it cannot take */
  __builtin_memcpy(hop->dmac, pod->pod_mac, 2 * ETH_ALEN);
  hop->flags = XG_HOP_LOCAL | (xg_egress_takes_xdp(pod->ifindex) ? XG_HOP_XMIT : 0);
}

/* TC ingress: a packet XDP rewrote toward a local pod and handed up: TTL, MACs, and out of the
 * pod's host-side interface (its peer, the pod, receives it). */
static __always_inline int xg_tc_local(struct __sk_buff* skb, __u32 l3_off, __u8 family, __u64 len,
                                       const struct xg_local_pod* pod) {
  struct xg_local_pod hop = *pod;
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  l3_off &= 0x3f; /* at most 18; keeps the verifier's bounds */
  if (xg_decrement_ttl(data + l3_off, data_end, family)) return TC_ACT_OK;
  if (bpf_skb_store_bytes(skb, 0, hop.pod_mac, 2 * ETH_ALEN, 0)) return TC_ACT_OK;
  xg_count(&xg_path_stats, XG_PATH_FORWARD_LOCAL, len);
  return bpf_redirect(hop.ifindex, 0);
}

#endif
