/* Programs for the L4 benchmark: a sink that counts and drops (at XDP, or at TC), the floor
 * (a bare XDP forwarder: destination rewrite and redirect, no lookup at all), and a harness
 * that times one XDP program per packet under BPF_PROG_TEST_RUN. */
/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/csum.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set before load. */
const volatile __u32 floor_ifindex = 0; /* floor: where to redirect */
const volatile __u8 floor_dmac[ETH_ALEN] = {};
const volatile __u8 floor_smac[ETH_ALEN] = {};
const volatile __be32 floor_daddr = 0; /* floor: the backend, network order */
const volatile __be16 floor_dport = 0;
const volatile __u16 sink_port = 5432;

struct count_map {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
};
struct count_map sink_count SEC(".maps");

static __always_inline struct udphdr* udp_of(void* data, void* data_end) {
  struct ethhdr* eth = data;
  struct iphdr* iph = (void*)(eth + 1);
  struct udphdr* uh = (void*)(iph + 1);
  if ((void*)(uh + 1) > data_end) return 0;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->protocol != IPPROTO_UDP) return 0;
  return uh;
}

/* Counts and drops the benchmark's packets; everything else (ARP, ND) goes up. */
SEC("xdp")
int bench_sink(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct udphdr* uh = udp_of(data, data_end);
  if (!uh || uh->dest != bpf_htons(sink_port)) return XDP_PASS;
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&sink_count, &zero);
  if (n) *n += 1;
  return XDP_DROP;
}

/* The plain sink: the same count at TC ingress, so the sink's end of the veth has no XDP
 * program and no NAPI, as a pod's interface: XDP cannot redirect into it. */
SEC("tc")
int bench_sink_tc(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct udphdr* uh = udp_of(data, data_end);
  if (!uh || uh->dest != bpf_htons(sink_port)) return TC_ACT_OK;
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&sink_count, &zero);
  if (n) *n += 1;
  return TC_ACT_SHOT;
}

/* The floor: what any XDP forwarder of this traffic costs at least. It finds the UDP
 * header, rewrites the destination address and port to the one backend with incremental
 * checksum updates (IPv4 header; UDP when the sender set one), sets the MACs and
 * redirects: no listener, no table, no connection, no route lookup. */
SEC("xdp")
int bench_floor(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = (void*)(eth + 1);
  struct udphdr* uh = (void*)(iph + 1);
  if ((void*)(uh + 1) > data_end) return XDP_PASS;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->ihl != 5 || iph->protocol != IPPROTO_UDP)
    return XDP_PASS;
  __be32 to_addr = floor_daddr;
  __be16 to_port = floor_dport;
  __u32 delta = xg_csum_delta_addr(0, (const __u8*)&iph->daddr, (const __u8*)&to_addr, 4);
  xg_csum_apply(&iph->check, delta);
  iph->daddr = to_addr;
  delta = xg_csum_delta16(delta, uh->dest, to_port);
  uh->dest = to_port;
  if (uh->check) {
    xg_csum_apply(&uh->check, delta);
    if (!uh->check) uh->check = 0xffff;
  }
#pragma unroll
  for (int i = 0; i < ETH_ALEN; i++) {
    eth->h_dest[i] = floor_dmac[i];
    eth->h_source[i] = floor_smac[i];
  }
  return bpf_redirect(floor_ifindex, 0);
}

/* Lets a veth end receive XDP_TX/redirected frames (native XDP needs a program there). */
SEC("xdp")
int bench_pass(struct xdp_md* ctx) { return XDP_PASS; }

/* The timing harness. BPF_PROG_TEST_RUN repeats a program on one buffer, which a forwarder
 * rewrites; the harness puts the frame's first 48 bytes (Ethernet, IPv4 and UDP headers)
 * back, sets the source of this run, and tail-calls the program under test (slot 0). Its
 * own cost is measured with bench_pass in the slot and subtracted. */
struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} harness_target SEC(".maps");

#define HARNESS_WORDS 6
__u64 harness_frame[HARNESS_WORDS]; /* the frame's first 48 bytes, set by userspace */
__u32 harness_new_flows;            /* 0: cycle over harness_flows sources; 1: a new flow per run */
__u32 harness_flows = 1024;
__u64 harness_runs;

SEC("xdp")
int bench_harness(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u64* w = data;
  if ((void*)(w + HARNESS_WORDS) > data_end) return XDP_ABORTED;
#pragma unroll
  for (int i = 0; i < HARNESS_WORDS; i++) w[i] = harness_frame[i];
  struct ethhdr* eth = data;
  struct iphdr* iph = (void*)(eth + 1);
  struct udphdr* uh = (void*)(iph + 1);
  __u64 n = harness_runs++;
  if (harness_new_flows) {
    /* 198.18.0.(2..65):(0..65535): 4M sources, so a source comes back only after the
     * connection table (256K entries) has long evicted it. */
    __u16* low = (__u16*)&iph->saddr + 1;
    __u16 to = bpf_htons((__u16)(2 + ((n >> 16) & 0x3f)));
    __be16 sport = bpf_htons((__u16)n);
    __u32 delta = xg_csum_delta16(0, *low, to);
    xg_csum_apply(&iph->check, delta);
    xg_csum_apply(&uh->check, xg_csum_delta16(delta, uh->source, sport));
    *low = to;
    uh->source = sport;
  } else {
    __u32 flows = harness_flows ? harness_flows : 1;
    __be16 sport = bpf_htons(10000 + (__u16)(n % flows));
    xg_csum_apply(&uh->check, xg_csum_delta16(0, uh->source, sport));
    uh->source = sport;
  }
  bpf_tail_call(ctx, &harness_target, 0);
  return XDP_ABORTED;
}
