/* Steering of punted L7 traffic: at TC ingress of the attached interfaces, a TCP packet for a
 * Gateway address the node does not own (xg_steer_targets) is handed to the proxy's socket
 * with bpf_sk_assign (its connection's socket, else the listener on the wildcard address) and
 * marked, and the agent's policy route for the mark (maps/steer.h) delivers it locally. So
 * the proxy needs no socket, and the node no address, per Gateway address. */
/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/steer.h"
#include "maps/counters.h"
#include "maps/steer.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XG_MAX_STEER_TARGETS);
  __type(key, struct xg_steer_key);
  __type(value, struct xg_steer_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_steer_targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XG_STEER_MAX);
  __type(key, __u32);
  __type(value, struct xg_traffic);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_steer_stats SEC(".maps");

static __always_inline void xg_steer_count(__u32 result, __u64 bytes) {
  struct xg_traffic* t = bpf_map_lookup_elem(&xg_steer_stats, &result);
  if (t) {
    t->packets++;
    t->bytes += bytes;
  }
}

/* The socket the kernel itself would pick for the packet (established, then listening),
 * found in the current namespace. */
static __always_inline struct bpf_sock* xg_steer_lookup(struct __sk_buff* skb,
                                                        struct xg_steer_packet* p) {
  if (p->ipv6)
    return bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
  return bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
}

/* Runs first at the hook: what it does not steer goes on to the next program (TCX_NEXT,
 * which is TC_ACT_UNSPEC under clsact). */
SEC("tc")
int xgate_tc_steer(struct __sk_buff* skb) {
  if ((void*)(long)skb->data + XG_STEER_HEADROOM > (void*)(long)skb->data_end &&
      skb->len > skb->data_end - skb->data)
    bpf_skb_pull_data(skb, skb->len < XG_STEER_HEADROOM ? skb->len : XG_STEER_HEADROOM);
  struct xg_steer_packet p;
  __builtin_memset(&p, 0, sizeof(p));
  if (xg_steer_parse(skb, &p)) return TC_ACT_UNSPEC;
  if (!bpf_map_lookup_elem(&xg_steer_targets, &p.key)) return TC_ACT_UNSPEC;

  __u64 len = skb->len;
  struct bpf_sock* sk = xg_steer_lookup(skb, &p);
  if (!sk) {
    xg_steer_count(XG_STEER_NO_SOCKET, len);
    return TC_ACT_SHOT;
  }
  __u32 result = sk->state == BPF_TCP_LISTEN ? XG_STEER_LISTENER : XG_STEER_ESTABLISHED;
  long err = bpf_sk_assign(skb, sk, 0);
  bpf_sk_release(sk);
  if (err) {
    xg_steer_count(XG_STEER_ASSIGN_FAILED, len);
    return TC_ACT_SHOT;
  }
  skb->mark = XG_STEER_MARK;
  xg_steer_count(result, len);
  return TC_ACT_OK;
}
