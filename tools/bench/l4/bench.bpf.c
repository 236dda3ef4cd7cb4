/* Programs for the L4 benchmark: a traffic generator (XDP_TX in BPF_PROG_TEST_RUN live-frame
 * mode), a sink that counts and drops, and the floor: XDP redirect with no lookup at all. */
/* Kernel headers first: the libbpf headers need their types. */
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set before load. */
const volatile __u32 flows = 1024;      /* generator: distinct source ports */
const volatile __u32 floor_ifindex = 0; /* floor: where to redirect */
const volatile __u8 floor_dmac[ETH_ALEN] = {};
const volatile __u8 floor_smac[ETH_ALEN] = {};
const volatile __u16 sink_port = 5432;
/* The generator's headers (Ethernet + IPv4 + UDP), rewritten into every frame: live-frame
 * pages come back with whatever the forwarder wrote into them. */
#define HDR_LEN 42
const volatile __u8 gen_headers[HDR_LEN] = {};

struct count_map {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
};
struct count_map gen_count SEC(".maps");
struct count_map sink_count SEC(".maps");

static __always_inline struct udphdr* udp_of(void* data, void* data_end) {
  struct ethhdr* eth = data;
  struct iphdr* iph = (void*)(eth + 1);
  struct udphdr* uh = (void*)(iph + 1);
  if ((void*)(uh + 1) > data_end) return 0;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->protocol != IPPROTO_UDP) return 0;
  return uh;
}

/* Sends the test-run packet out of the interface it "arrived" on, one source port per
 * packet round-robin over `flows` (UDP checksum 0: none). */
SEC("xdp")
int bench_gen(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u8* p = data;
  if (p + HDR_LEN > (__u8*)data_end) return XDP_ABORTED;
#pragma unroll
  for (int i = 0; i < HDR_LEN; i++) p[i] = gen_headers[i];
  struct udphdr* uh = udp_of(data, data_end);
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&gen_count, &zero);
  if (!uh || !n) return XDP_ABORTED;
  *n += 1;
  uh->source = bpf_htons(10000 + (__u16)(*n % flows));
  uh->check = 0;
  return XDP_TX;
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

/* The floor: what any XDP forwarder costs at least (MAC rewrite and redirect). */
SEC("xdp")
int bench_floor(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XDP_PASS;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
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
