/* Counts the XDP_REDIRECTed frames the kernel dropped on their way out, per egress device: a
 * redirect the device refused (xdp_redirect_err: a veth whose peer has no NAPI, since 6.3) or
 * frames its transmit did not take (xdp_devmap_xmit's drops, before). Its own object, so the
 * fast path loads on a kernel without BTF for tracing too. */
/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps/egress.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The fields read, relocated against the running kernel's BTF (CO-RE). */
struct net {
  __u64 net_cookie;
} __attribute__((preserve_access_index));

typedef struct {
  struct net* net;
} possible_net_t;

struct net_device {
  int ifindex;
  possible_net_t nd_net;
} __attribute__((preserve_access_index));

/* The agent's network namespace (its SO_NETNS_COOKIE), set before load: an ifindex means a
 * device only within one namespace, and the tracepoints fire for every namespace's devices
 * (pods running XDP of their own). 0 counts them all. */
const volatile __u64 xg_netns_cookie = 0;

static __always_inline int xg_in_our_netns(const struct net_device* dev) {
  return !xg_netns_cookie || dev->nd_net.net->net_cookie == xg_netns_cookie;
}

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, XG_MAX_EGRESS);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_xmit_drops SEC(".maps");

static __always_inline void xg_count_drops(__u32 ifindex, __u64 drops) {
  __u64* count = bpf_map_lookup_elem(&xg_xmit_drops, &ifindex);
  if (count) {
    *count += drops;
    return;
  }
  if (bpf_map_update_elem(&xg_xmit_drops, &ifindex, &drops, BPF_NOEXIST) == 0) return;
  /* Another CPU made the entry meanwhile: its per-CPU slot for this CPU starts at 0. */
  count = bpf_map_lookup_elem(&xg_xmit_drops, &ifindex);
  if (count) *count += drops;
}

/* xdp_devmap_xmit(from_dev, to_dev, sent, drops, err): the device took fewer frames than it
 * was handed (kernels before 6.3 let a redirect into a veth without NAPI get this far). */
SEC("tp_btf/xdp_devmap_xmit")
int xgate_xmit_drops(__u64* ctx) {
  const struct net_device* to = (const struct net_device*)ctx[1];
  int drops = (int)ctx[3];
  if (drops > 0 && to && xg_in_our_netns(to)) xg_count_drops(to->ifindex, drops);
  return 0;
}

/* xdp_redirect_err(dev, prog, target, err, map_type, map_id, index): a redirect refused, one
 * frame; since 6.3 a device without NETDEV_XDP_ACT_NDO_XMIT refuses it here. For
 * bpf_redirect(ifindex) (no map) the index is the target's ifindex. */
SEC("tp_btf/xdp_redirect_err")
int xgate_redirect_errors(__u64* ctx) {
  const struct net_device* dev = (const struct net_device*)ctx[0];
  if (ctx[4] == BPF_MAP_TYPE_UNSPEC && dev && xg_in_our_netns(dev))
    xg_count_drops((__u32)ctx[6], 1);
  return 0;
}
