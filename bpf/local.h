/* Backends on this node (maps/local_pod.h): a packet rewritten toward a pod's address is put
 * straight into the pod's host-side interface, by XDP_REDIRECT where the device takes
 * redirected frames (its peer has NAPI), else by TC ingress with bpf_redirect, which any veth
 * takes. No FIB or neighbour lookup: the agent wrote the interface and both MACs. */
#ifndef XGATE_BPF_LOCAL_H
#define XGATE_BPF_LOCAL_H

/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/forward.h"
#include "bpf/maps.bpf.h"
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

/* XDP: straight into the pod's interface when it takes redirected frames; else up, rewritten,
 * where TC ingress (xg_tc_local) sends it. */
static __always_inline int xg_xdp_local(struct xdp_md* ctx, struct xg_packet* p, __u64 len,
                                        int partial, const struct xg_local_pod* pod) {
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = (void*)(long)ctx->data;
  __u32 ifindex = pod->ifindex;
  if (!xg_egress_takes_xdp(ifindex) || (void*)(eth + 1) > data_end ||
      xg_decrement_ttl(p->l3, data_end, p->family)) {
    if (partial) xg_make_partial(p, data_end);
    xg_count(&xg_path_stats, XG_PATH_FORWARD_UP, len);
    return XDP_PASS;
  }
  const __u8* macs = pod->pod_mac;
  asm volatile("" : "+r"(macs)); /* as in xg_xdp_send: keep the verifier's pointer plain */
  __builtin_memcpy(eth->h_dest, macs, ETH_ALEN);
  __builtin_memcpy(eth->h_source, macs + ETH_ALEN, ETH_ALEN);
  xg_count(&xg_path_stats, XG_PATH_FORWARD_LOCAL, len);
  return bpf_redirect(ifindex, 0);
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
