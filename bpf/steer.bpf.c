/* Steering of punted L7 traffic: at TC ingress of the attached interfaces, a TCP packet for a
 * Gateway address the node does not own (xg_steer_targets) is handed to a socket with
 * bpf_sk_assign and marked, and the agent's policy route for the mark (maps/steer.h) delivers
 * it locally: the connection's own socket when there is one, else the proxy's private
 * listener from xg_steer_socks (never a listener the kernel would pick for the address and
 * port: that may be another process's). So the proxy binds no port, and the node holds no
 * address, per Gateway address. */
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
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, XG_STEER_SOCK_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} xg_steer_socks SEC(".maps");

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

/* The packet's connection (established, a request or time-wait socket) in the current
 * namespace; a listener the lookup falls back to is not ours to use. */
static __always_inline struct bpf_sock* xg_steer_connection(struct __sk_buff* skb,
                                                            struct xg_steer_packet* p) {
  struct bpf_sock* sk;
  if (p->ipv6)
    sk = bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
  else
    sk = bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
  if (sk && sk->state == BPF_TCP_LISTEN) {
    bpf_sk_release(sk);
    return 0;
  }
  return sk;
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
  __u32 result = XG_STEER_ESTABLISHED;
  struct bpf_sock* sk = xg_steer_connection(skb, &p);
  if (!sk) {
    __u32 slot = p.ipv6 ? XG_STEER_SOCK_IPV6 : XG_STEER_SOCK_IPV4;
    sk = bpf_map_lookup_elem(&xg_steer_socks, &slot);
    result = XG_STEER_LISTENER;
  }
  if (!sk) {
    xg_steer_count(XG_STEER_NO_SOCKET, len);
    return TC_ACT_SHOT;
  }
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
