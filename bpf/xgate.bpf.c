/* The kernel fast path: XDP ingress (listener lookup, punt, Maglev + conntrack, DNAT,
 * forward) and the TC programs that reverse-NAT replies on the backend side. */
/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/conntrack.h"
#include "bpf/flow_cache.h"
#include "bpf/forward.h"
#include "bpf/lb.h"
#include "bpf/local.h"
#include "bpf/maps.bpf.h"
#include "bpf/nat.h"
#include "bpf/parsing.h"
#include "bpf/partial_csum.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set before load to leave the flow cache out (bpf/flow_cache.h): the benchmark's and the
 * tests' comparison with the connection-table path alone. The agent never sets it. */
const volatile __u8 xg_flow_cache_off = 0;

static __always_inline void xg_make_flow(struct xg_flow* f, const __u8* src, const __u8* dst,
                                         __u16 sport, __u16 dport, __u8 proto) {
  __builtin_memset(f, 0, sizeof(*f));
  __builtin_memcpy(f->src, src, 16);
  __builtin_memcpy(f->dst, dst, 16);
  f->sport = sport;
  f->dport = dport;
  f->proto = proto;
}

/* An ICMP error sent to a Gateway address about a packet of a tracked flow (the Gateway's
 * reply to the client): send it on to the flow's backend, as if the backend had sent it. */
static __always_inline int xg_xdp_icmp(struct xdp_md* ctx, struct xg_packet* p, __u64 len) {
  void* data_end = (void*)(long)ctx->data_end;
  struct xg_quoted q;
  if (!xg_is_icmp_error(p, data_end) || xg_parse_quoted(p, data_end, &q)) goto pass;
  struct xg_flow f __attribute__((aligned(8)));
  xg_make_flow(&f, q.dst, q.src, q.dport, q.sport, q.proto);
  struct xg_ct_entry* ct = xg_ct_lookup(&f, bpf_jiffies64());
  if (!ct) goto pass;
  __u8 backend[16] __attribute__((aligned(4)));
  __builtin_memcpy(backend, ct->backend_addr, 16);
  __u16 backend_port = ct->backend_port;
  xg_rewrite(p->l3, p->l4, data_end, p->family, p->proto, XG_DST, backend, 0);
  xg_rewrite_quoted(p, &q, data_end, XG_SRC, backend, backend_port);
  xg_count(&xg_path_stats, XG_PATH_ICMP_TRANSLATED, len);
  return xg_xdp_forward(ctx, p, len, 0, backend, NULL, 0);
pass:
  xg_count(&xg_path_stats, XG_PATH_PASS_NO_LISTENER, len);
  return XDP_PASS;
}

#define XG_NEW_FLOW -1

/* A flow the connection table does not know: its listener decides. For an L4 listener,
 * picks the backend into *ct (not recorded yet) and returns XG_NEW_FLOW; else the verdict. */
static __always_inline int xg_new_flow(const struct xg_packet* p, __u64 len,
                                       struct xg_ct_entry* ct) {
  struct xg_listener_key lk;
  __builtin_memset(&lk, 0, sizeof(lk));
  __builtin_memcpy(lk.addr, p->dst, 16);
  lk.port = p->dport;
  lk.proto = p->proto;
  struct xg_listener_value* lv = bpf_map_lookup_elem(&xg_listeners, &lk);
  if (!lv) {
    xg_count(&xg_path_stats, XG_PATH_PASS_NO_LISTENER, len);
    return XDP_PASS;
  }
  __u32 listener = lv->counter_index;
  __u32 service = lv->service_id;
  if (!(lv->flags & XG_LISTENER_L4)) {
    xg_count(&xg_lstn_stats, listener, len);
    xg_count(&xg_path_stats, XG_PATH_PUNT, len);
    return XDP_PASS;
  }
  __u32 drop = 0;
  __u32 backend_id = 0;
  struct xg_backend* b = xg_pick_backend(service, &p->flow, &backend_id, &drop);
  if (b && b->family != p->family) {
    b = NULL;
    drop = XG_DROP_BAD_BACKEND;
  }
  if (!b) {
    xg_count(&xg_lstn_stats, listener, len);
    xg_count(&xg_drop_stats, drop, len);
    return XDP_DROP;
  }
  xg_ct_fill(ct, b, backend_id, listener, bpf_ktime_get_coarse_ns());
  xg_count(&xg_path_stats, XG_PATH_CT_NEW, len);
  return XG_NEW_FLOW;
}

SEC("xdp")
int xgate_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u64 len = data_end - data;
  __u64 ticks = bpf_jiffies64();
  /* Read before any table is: a change the agent makes after it leaves a slot filled on
   * this packet's path stale. */
  __u32 gen = 0;
  if (!xg_flow_cache_off) {
    gen = xg_flow_gen_now();
    int verdict = xg_flow_cache_serve(ctx, gen, ticks);
    if (verdict != XG_FLOW_CACHE_MISS) return verdict;
  }
  struct xg_packet p;
  __builtin_memset(&p, 0, sizeof(p));

  switch (xg_parse(data, data_end, &p)) {
    case XG_PARSE_OK:
      break;
    case XG_PARSE_FRAGMENT:
      xg_count(&xg_path_stats, XG_PATH_PASS_FRAGMENT, len);
      return XDP_PASS;
    case XG_PARSE_TRUNCATED:
      xg_count(&xg_drop_stats, XG_DROP_TRUNCATED, len);
      return XDP_DROP;
    default:
      xg_count(&xg_path_stats, XG_PATH_PASS_NOT_IP, len);
      return XDP_PASS;
  }
  if (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6) return xg_xdp_icmp(ctx, &p, len);

  struct xg_ct_entry fresh;
  struct xg_ct_entry* ct = xg_ct_lookup(&p.flow, ticks);
  if (ct) {
    xg_count(&xg_path_stats, XG_PATH_CT_HIT, len);
  } else {
    int verdict = xg_new_flow(&p, len, &fresh);
    if (verdict != XG_NEW_FLOW) return verdict;
    ct = &fresh;
  }
  xg_count(&xg_lstn_stats, ct->listener, len);
  xg_count(&xg_bknd_stats, ct->backend_id, len);
  int partial = xg_complete_partial(ctx, &p);
  if (partial) xg_count(&xg_path_stats, XG_PATH_PARTIAL_CSUM, len);
  xg_rewrite(p.l3, p.l4, data_end, p.family, p.proto, XG_DST, ct->backend_addr, ct->backend_port);
  struct xg_nexthop fresh_hop;
  const struct xg_nexthop* hop =
      p.vlan ? NULL : xg_next_hop(ctx, &p, ct->backend_addr, &ct->nh, ticks, &fresh_hop);
  /* A new flow is recorded with the next hop its first packet found. */
  if (ct == &fresh && xg_ct_record(&p.flow, &fresh)) {
    xg_count(&xg_drop_stats, XG_DROP_CT_FULL, len);
    return XDP_DROP;
  }
  if (!xg_flow_cache_off) xg_flow_cache_fill(ctx, &p, ct, hop, gen, ticks);
  return xg_xdp_send(ctx, &p, len, partial, hop);
}

/* Rewrites the source of a TCP/UDP reply with skb helpers, which keep CHECKSUM_PARTIAL and
 * CHECKSUM_COMPLETE packets right (replies from a local backend carry partial checksums). */
static __always_inline int xg_tc_snat(struct __sk_buff* skb, __u32 l3_off, __u32 l4_off,
                                      const struct xg_packet* p, const struct xg_rnat_entry* rn) {
  __u32 csum_off = l4_off + xg_l4_csum_offset(p->proto);
  __u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
  if (p->family == XG_FAMILY_V4) {
    __be32 from = *(const __be32*)(p->src + 12);
    __be32 to = *(const __be32*)(rn->gw_addr + 12);
    if (bpf_l3_csum_replace(skb, l3_off + __builtin_offsetof(struct iphdr, check), from, to, 4))
      return -1;
    if (bpf_l4_csum_replace(skb, csum_off, from, to, BPF_F_PSEUDO_HDR | mangled | 4)) return -1;
    if (bpf_skb_store_bytes(skb, l3_off + __builtin_offsetof(struct iphdr, saddr), &to, 4, 0))
      return -1;
  } else {
    __s64 diff = bpf_csum_diff((__be32*)p->src, 16, (__be32*)rn->gw_addr, 16, 0);
    if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled)) return -1;
    if (bpf_skb_store_bytes(skb, l3_off + __builtin_offsetof(struct ipv6hdr, saddr), rn->gw_addr,
                            16, 0))
      return -1;
  }
  __be16 from_port = bpf_htons(p->sport);
  __be16 to_port = bpf_htons(rn->gw_port);
  if (bpf_l4_csum_replace(skb, csum_off, from_port, to_port, mangled | 2)) return -1;
  if (bpf_skb_store_bytes(skb, l4_off, &to_port, 2, 0)) return -1;
  return 0;
}

/* An ICMP error from the backend side about a packet of a tracked flow (client -> backend):
 * make it look like it is about the client -> Gateway packet. */
static __always_inline int xg_tc_icmp(struct __sk_buff* skb, struct xg_packet* p, __u32 l3_off,
                                      __u32 l4_off, __u64 len, int redirect) {
  void* data_end = (void*)(long)skb->data_end;
  struct xg_quoted q;
  if (!xg_is_icmp_error(p, data_end) || xg_parse_quoted(p, data_end, &q)) return TC_ACT_OK;
  struct xg_flow key __attribute__((aligned(8)));
  xg_make_flow(&key, q.dst, q.src, q.dport, q.sport, q.proto);
  struct xg_rnat_entry* found = bpf_map_lookup_elem(&xg_rnat, &key);
  if (!found) return TC_ACT_OK;
  struct xg_rnat_entry rn = *found;
  xg_rewrite_quoted(p, &q, data_end, XG_DST, rn.gw_addr, rn.gw_port);
  if (xg_addr_eq(p->src, q.dst))
    xg_rewrite(p->l3, p->l4, data_end, p->family, p->proto, XG_SRC, rn.gw_addr, 0);
  xg_count(&xg_path_stats, XG_PATH_ICMP_TRANSLATED, len);
  return xg_tc_forward(skb, l3_off, l4_off, p->family, p->proto, redirect);
}

/* Ingress: a packet XDP rewrote toward a backend and handed up (its device takes no
 * XDP_REDIRECTed frames, or XDP had no next hop), known by the reverse of its flow being a
 * tracked reply: into a local pod's interface (bpf/local.h), or sent on with
 * bpf_redirect_neigh, else left to the stack. */
static __always_inline int xg_tc_forward_up(struct __sk_buff* skb, const struct xg_packet* p,
                                            __u32 l3_off, __u32 l4_off, __u64 len) {
  struct xg_flow back __attribute__((aligned(8)));
  xg_make_flow(&back, p->dst, p->src, p->dport, p->sport, p->proto);
  if (!bpf_map_lookup_elem(&xg_rnat, &back)) return TC_ACT_OK;
  const struct xg_local_pod* pod = xg_local_pod_of(p->dst);
  if (pod) return xg_tc_local(skb, l3_off, p->family, len, pod);
  int verdict = xg_tc_forward(skb, l3_off, l4_off, p->family, p->proto, 1);
  if (verdict == TC_ACT_REDIRECT) xg_count(&xg_path_stats, XG_PATH_FORWARD_TC, len);
  return verdict;
}

static __always_inline int xg_tc_rnat(struct __sk_buff* skb, int redirect) {
  __u32 want = skb->len < 256 ? skb->len : 256;
  bpf_skb_pull_data(skb, want);
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  __u64 len = skb->len;
  struct xg_packet p;
  __builtin_memset(&p, 0, sizeof(p));
  if (xg_parse(data, data_end, &p) != XG_PARSE_OK) return TC_ACT_OK;
  __u32 l3_off = p.l3 - data;
  __u32 l4_off = p.l4 - data;
  if (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6)
    return xg_tc_icmp(skb, &p, l3_off, l4_off, len, redirect);

  struct xg_rnat_entry* found = bpf_map_lookup_elem(&xg_rnat, &p.flow);
  if (!found) return redirect ? xg_tc_forward_up(skb, &p, l3_off, l4_off, len) : TC_ACT_OK;
  struct xg_rnat_entry rn = *found;
  if (xg_tc_snat(skb, l3_off, l4_off, &p, &rn)) {
    xg_count(&xg_drop_stats, XG_DROP_TRUNCATED, len);
    return TC_ACT_SHOT;
  }
  xg_count(&xg_path_stats, XG_PATH_RNAT, len);
  xg_count(&xg_lstn_stats, rn.listener, len);
  return xg_tc_forward(skb, l3_off, l4_off, p.family, p.proto, redirect);
}

/* Ingress of an interface: reverse NAT of a reply from a backend behind it, straight out toward
 * the client; or a packet toward a backend that XDP handed up (xg_tc_forward_up). */
SEC("tc")
int xgate_tc_rnat_in(struct __sk_buff* skb) { return xg_tc_rnat(skb, 1); }

/* Egress of the client-facing interface: reverse NAT after the stack routed the reply. */
SEC("tc")
int xgate_tc_rnat_out(struct __sk_buff* skb) { return xg_tc_rnat(skb, 0); }
