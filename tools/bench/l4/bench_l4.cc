// xgate-bench-l4: UDP packets/s through one node, four ways, on the same veth topology:
//   xgate        the fast path (XDP DNAT + Maglev + conntrack + next hop + redirect), via
//                L4Applier; the sink reached through the FIB
//   xgate-local  the same with the sink recorded as a pod on this node (xg_local_pods, as
//                xgate-cni and the agent write it): its interface without the FIB (issue #14)
//   nftables     kernel forwarding with an nftables DNAT rule (prerouting nat chain, conntrack)
//   floor        a bare XDP program that only rewrites the destination (address and port, with
//                checksum updates) and the MACs, and redirects: no lookup at all
// gen ns (c0) -> node ns (n0 | n1) -> sink ns (b1). The generator is a packet socket on c0
// (sendmmsg, CPU 0; UDP checksums set); n0's NAPI runs threaded on CPU 1, and its CPU time
// per delivered packet is printed beside the Mpps: where the generator cannot saturate the
// forwarder (BPF_PROG_TEST_RUN's live-frame mode, a faster generator, is refused with EPERM on
// this machine's kernel), that column is the one that compares the peers. Two sinks, one
// table each per flow count: at XDP on b1 (NAPI on the sink's end: XDP can redirect into it),
// and at TC ingress on b1 (a plain veth end, as a pod's interface: xgate's XDP rewrites and
// hands the packet to TC, which sends it; the floor, which could only blackhole here, does
// not run). Rounds are interleaved so drift on the shared machine hits each peer alike.
// Then the per-packet cost of xgate's XDP program and the floor's under BPF_PROG_TEST_RUN
// (repeat N): a harness restores the frame and tail-calls the program; xgate carries 64
// listeners with four weighted backends each, and runs with conntrack hits (each `--flows`
// count of sources cycled) and misses (a new flow every packet, the table full).
//
// Usage: xgate-bench-l4 [--rounds N (0: test run only)] [--packets N] [--flows N,N...]
//                       [--repeat N] [--cost-runs N] [--no-miss]   (root)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/compiler/snapshot.h"
#include "agent/l4/l4_applier.h"
#include "bpf/xgate.skel.h"
#include "maps/local_pod.h"
#include "maps/names.h"
#include "maps/pins.h"
#include "maps/typed_map.h"
#include "spdlog/spdlog.h"
#include "tools/bench/l4/bench.skel.h"
#include "tools/version/command_line.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string g_id;
std::vector<std::string> g_namespaces;

bool Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

std::string Ns(const char* role) { return "xgb4" + std::string(role) + "-" + g_id; }

bool EnterNs(const std::string& name) {
  int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

void Cleanup() {
  for (const std::string& ns : g_namespaces) Sh("ip netns del " + ns);
  g_namespaces.clear();
}

bool BuildTopology() {
  for (const char* role : {"gen", "node", "sink"}) {
    if (!Sh("ip netns add " + Ns(role))) return false;
    g_namespaces.push_back(Ns(role));
  }
  const std::string gen = Ns("gen"), node = Ns("node"), sink = Ns("sink");
  const std::vector<std::string> cmds = {
      "ip -n " + gen +
          " link add c0 address 02:00:00:00:00:02 type veth peer name n0 address "
          "02:00:00:00:00:01 netns " +
          node,
      "ip -n " + sink +
          " link add b1 address 02:00:00:00:01:02 type veth peer name n1 "
          "address 02:00:00:00:01:01 netns " +
          node,
      "ip -n " + gen + " addr add 198.18.0.2/24 dev c0",
      "ip -n " + node + " addr add 198.18.0.1/24 dev n0",
      "ip -n " + node + " addr add 198.18.1.1/24 dev n1",
      "ip -n " + sink + " addr add 198.18.1.2/24 dev b1",
      "ip -n " + gen + " link set c0 up",
      "ip -n " + node + " link set n0 up",
      "ip -n " + node + " link set n1 up",
      "ip -n " + sink + " link set b1 up",
      "ip -n " + node + " neigh replace 198.18.1.2 lladdr 02:00:00:00:01:02 dev n1 nud permanent",
      "ip -n " + node + " neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev n0 nud permanent",
      "ip netns exec " + node + " sysctl -qw net.ipv4.ip_forward=1",
  };
  for (const std::string& cmd : cmds) {
    if (!Sh(cmd)) {
      std::fprintf(stderr, "bench: failed: %s\n", cmd.c_str());
      return false;
    }
  }
  return true;
}

uint16_t Checksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// 64-byte Ethernet frame: c0 -> n0, 198.18.0.2:10000 -> 198.18.100.10:5432 UDP.
std::vector<uint8_t> Frame(uint16_t sport = 10000) {
  std::vector<uint8_t> f(60, 0);
  const uint8_t dst[6] = {2, 0, 0, 0, 0, 1}, src[6] = {2, 0, 0, 0, 0, 2};
  std::memcpy(&f[0], dst, 6);
  std::memcpy(&f[6], src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[3] = 46;  // total length 20 + 8 + 18
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  const uint8_t s[4] = {198, 18, 0, 2}, d[4] = {198, 18, 100, 10};
  std::memcpy(ip + 12, s, 4);
  std::memcpy(ip + 16, d, 4);
  uint16_t c = Checksum(ip, 20);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  uint8_t* udp = ip + 20;
  udp[0] = sport >> 8;
  udp[1] = sport & 0xff;
  udp[2] = 5432 >> 8;
  udp[3] = 5432 & 0xff;
  udp[5] = 26;
  // The UDP checksum over the pseudo-header and the segment, as a remote sender would set.
  std::vector<uint8_t> pseudo(ip + 12, ip + 20);
  pseudo.insert(pseudo.end(), {0, IPPROTO_UDP, 0, 26});
  pseudo.insert(pseudo.end(), udp, udp + 26);
  c = Checksum(pseudo.data(), pseudo.size());
  if (c == 0) c = 0xffff;
  udp[6] = c >> 8;
  udp[7] = c & 0xff;
  return f;
}

uint64_t ReadCount(bpf_map* map) {
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(cpus);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(map), &zero, v.data())) return 0;
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  return sum;
}

void ClearCount(bpf_map* map) {
  std::vector<uint64_t> v(libbpf_num_possible_cpus(), 0);
  uint32_t zero = 0;
  bpf_map_update_elem(bpf_map__fd(map), &zero, v.data(), BPF_ANY);
}

bool AttachXdp(const std::string& ns, const char* ifname, int prog_fd) {
  if (!EnterNs(ns)) return false;
  return bpf_xdp_attach(static_cast<int>(if_nametoindex(ifname)), prog_fd, XDP_FLAGS_DRV_MODE,
                        nullptr) == 0;
}

bool DetachXdp(const std::string& ns, const char* ifname) {
  if (!EnterNs(ns)) return false;
  return bpf_xdp_detach(static_cast<int>(if_nametoindex(ifname)), XDP_FLAGS_DRV_MODE, nullptr) == 0;
}

// BPF_PROG_TEST_RUN options for the bench frame as received on `ifname` (current namespace);
// the frame and context live as long as the options that point at them.
struct FrameRun {
  explicit FrameRun(const char* ifname) : frame(Frame()) {
    ctx.data_end = static_cast<uint32_t>(frame.size());
    ctx.ingress_ifindex = if_nametoindex(ifname);
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  FrameRun(const FrameRun&) = delete;
  FrameRun& operator=(const FrameRun&) = delete;
  std::vector<uint8_t> frame;
  xdp_md ctx{};
  bpf_test_run_opts opts{};
};

// Runs the calling thread on one CPU only (the generator on CPU 0, the node's NAPI thread on 1).
bool PinTo(int pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(pid, sizeof(set), &set) == 0;
}

// The kernel threads that poll n0 (threaded NAPI: "napi/n0-<id>"); the node namespace's n0 is
// the only one whose NAPI the bench makes threaded, so new such threads are its.
std::set<int> NodeNapiThreads() {
  std::set<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line.rfind("napi/n0-", 0) == 0) out.insert(std::stoi(name));
  }
  return out;
}

// CPU time the threads have run, in ns (/proc/TID/schedstat's first field): for n0's NAPI
// threads, the forwarder's own cost, whatever the generator manages to send.
uint64_t ThreadsCpuNs(const std::set<int>& tids) {
  uint64_t sum = 0;
  for (int tid : tids) {
    std::ifstream in("/proc/" + std::to_string(tid) + "/schedstat");
    uint64_t ns = 0;
    if (in >> ns) sum += ns;
  }
  return sum;
}

// The generator: an AF_PACKET socket on c0 (qdisc bypassed) sending the bench frame from
// `flows` source ports in batches (sendmmsg), on CPU 0. (BPF_PROG_TEST_RUN's live-frame mode,
// a kernel-side generator, is refused with EPERM on this machine's kernel.)
class Generator {
 public:
  bool Open() {
    if (!EnterNs(Ns("gen"))) return false;
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd_ < 0 || setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
      return false;
    addr_.sll_family = AF_PACKET;
    addr_.sll_ifindex = static_cast<int>(if_nametoindex("c0"));
    addr_.sll_halen = ETH_ALEN;
    return addr_.sll_ifindex != 0;
  }
  void SetFlows(uint32_t flows) {
    frames_.clear();
    for (uint32_t i = 0; i < std::max(flows, 1u); ++i) frames_.push_back(Frame(10000 + i % 50000));
    next_ = 0;
  }
  ~Generator() {
    if (fd_ >= 0) close(fd_);
  }
  // Sends `packets` frames, round-robin over the flows.
  void Send(uint64_t packets) {
    constexpr unsigned kBatch = 64;
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    uint64_t sent = 0;
    while (sent < packets) {
      unsigned n = static_cast<unsigned>(std::min<uint64_t>(kBatch, packets - sent));
      for (unsigned i = 0; i < n; ++i) {
        std::vector<uint8_t>& f = frames_[(next_ + i) % frames_.size()];
        iov[i] = {f.data(), f.size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &addr_;
        msgs[i].msg_hdr.msg_namelen = sizeof(addr_);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int done = sendmmsg(fd_, msgs, n, 0);
      if (done <= 0) {
        if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
        std::perror("bench: sendmmsg");
        return;
      }
      sent += static_cast<uint64_t>(done);
      next_ += static_cast<uint64_t>(done);
    }
  }

 private:
  int fd_ = -1;
  sockaddr_ll addr_{};
  std::vector<std::vector<uint8_t>> frames_;
  uint64_t next_ = 0;
};

struct Delivery {
  double pps = 0;             // delivered at the sink
  double napi_ns_packet = 0;  // n0's NAPI threads' CPU time per delivered packet
};

// Sends `packets` frames from the generator; measures delivery at the sink.
Delivery Measure(bench_bpf* skel, Generator& gen, uint64_t packets) {
  if (!EnterNs(Ns("gen")) || !PinTo(0, 0)) return {};
  ClearCount(skel->maps.sink_count);
  const std::set<int> napi = NodeNapiThreads();
  const uint64_t cpu_before = ThreadsCpuNs(napi);
  auto start = Clock::now();
  gen.Send(packets);
  // Let the queues drain: wait until the sink count stops moving (bounded).
  uint64_t last = ReadCount(skel->maps.sink_count);
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    uint64_t now = ReadCount(skel->maps.sink_count);
    if (now == last) break;
    last = now;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Delivery d;
  d.pps = last / seconds;
  if (last > 0) d.napi_ns_packet = static_cast<double>(ThreadsCpuNs(napi) - cpu_before) / last;
  return d;
}

// One run of the harness per packet under BPF_PROG_TEST_RUN, with `target_fd` in its slot,
// as received on n0 (current namespace: node). Returns ns per run, or -1.
double HarnessNs(bench_bpf* skel, int target_fd, bool new_flows, uint32_t repeat,
                 uint32_t* retval) {
  uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel->maps.harness_target), &zero, &target_fd, BPF_ANY))
    return -1;
  skel->bss->harness_new_flows = new_flows ? 1 : 0;
  FrameRun run("n0");
  bpf_test_run_opts& opts = run.opts;
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bench_harness), &opts) != 0) {
    std::perror("bench: test run");
    return -1;
  }
  *retval = opts.retval;
  return opts.duration;
}

// The state the program is timed with: the bench listener over four weighted backends among
// 64 listeners, so the lookups run on tables with more than one entry.
xgate::compiler::Snapshot TestRunSnapshot() {
  xgate::compiler::Snapshot s;
  for (int i = 0; i < 64; ++i) {
    xgate::compiler::L4Listener l;
    l.gateway = "bench/gw";
    l.listener = absl::StrCat("l", i);
    l.address = absl::StrCat("198.18.100.", 10 + i);
    l.port = static_cast<uint16_t>(i == 0 ? 5432 : 6000 + i);
    l.protocol = IPPROTO_UDP;
    l.backends = {{"198.18.1.2", l.port, 400000, "bench/b"},
                  {"198.18.1.3", l.port, 300000, "bench/b"},
                  {"198.18.1.4", l.port, 200000, "bench/b"},
                  {"198.18.1.5", l.port, 100000, "bench/b"}};
    s.l4.push_back(l);
  }
  return s;
}

struct CostRow {
  std::string name;
  int prog_fd;
  bool new_flows;
  uint32_t flows;
  std::vector<double> ns;
};

// Times the floor and xgate's XDP program per packet; prints the second table.
bool MeasureProgramCost(bench_bpf* skel, const std::string& pin_root, uint32_t repeat,
                        const std::vector<uint32_t>& flow_counts, int runs, bool misses) {
  const std::string node = Ns("node");
  for (const char* ip : {"198.18.1.3", "198.18.1.4", "198.18.1.5"}) {
    if (!Sh("ip -n " + node + " neigh replace " + ip +
            " lladdr 02:00:00:00:01:02 dev n1 nud permanent"))
      return false;
  }
  if (!EnterNs(node)) return false;
  auto applier = xgate::l4::L4Applier::Create({pin_root, {}});
  if (!applier.ok() || !(*applier)->Apply(TestRunSnapshot()).ok()) {
    std::fprintf(stderr, "bench: loading xgate for the test run failed\n");
    return false;
  }
  int xgate = (*applier)->datapath().XdpProgFd();
  // The same program built without the flow cache, on the same maps: the connection-table
  // path alone, timed interleaved with the shipped one.
  std::unique_ptr<xgate_bpf, decltype(&xgate_bpf__destroy)> no_cache(nullptr, xgate_bpf__destroy);
  no_cache.reset(xgate::l4::OpenXgateObject(pin_root));
  if (!no_cache) return false;
  no_cache->rodata->xg_flow_cache_off = 1;
  if (xgate_bpf__load(no_cache.get())) {
    std::fprintf(stderr, "bench: loading xgate without the flow cache failed\n");
    return false;
  }
  const int conntrack_only = bpf_program__fd(no_cache->progs.xgate_xdp);
  // The flow cache is per CPU: every run on one CPU.
  if (!PinTo(0, 0)) std::perror("bench: pinning to CPU 0");
  const uint32_t most = *std::max_element(flow_counts.begin(), flow_counts.end());
  std::vector<CostRow> rows = {
      {"harness", bpf_program__fd(skel->progs.bench_pass), false, most, {}},
      {"floor", bpf_program__fd(skel->progs.bench_floor), false, most, {}},
  };
  for (uint32_t flows : flow_counts) {
    rows.push_back(
        {absl::StrCat("xgate conntrack hit, ", flows, " flows"), xgate, false, flows, {}});
    rows.push_back({absl::StrCat("  without the flow cache, ", flows, " flows"),
                    conntrack_only,
                    false,
                    flows,
                    {}});
  }
  if (misses) rows.push_back({"xgate conntrack miss", xgate, true, most, {}});
  uint32_t retval = 0;
  skel->data->harness_flows = most;
  HarnessNs(skel, xgate, false, 4 * most, &retval);  // records the cycled flows
  bool ok = true;
  for (int rep = 0; rep < runs; ++rep) {
    for (CostRow& row : rows) {
      skel->data->harness_flows = row.flows;
      double ns = HarnessNs(skel, row.prog_fd, row.new_flows, repeat, &retval);
      uint32_t want = row.prog_fd == rows[0].prog_fd ? XDP_PASS : XDP_REDIRECT;
      if (ns < 0 || retval != want) {
        std::fprintf(stderr, "bench: %s returned %u under test run\n", row.name.c_str(), retval);
        ok = false;
      }
      row.ns.push_back(ns);
    }
  }
  if (std::getenv("XGATE_BENCH_DEBUG")) {
    auto paths = xgate::maps::TrafficCounters::OpenPinned(
        xgate::maps::PinPath(pin_root, xgate::maps::kPathStats));
    for (uint32_t i = 0; paths.ok() && i < XG_PATH_MAX; ++i)
      std::fprintf(stderr, "test run path %s: %llu\n", xgate::maps::PathName(i).data(),
                   static_cast<unsigned long long>(paths->Read(i)->packets));
  }
  (*applier)->Stop(/*detach=*/true);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto least = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  const double harness = median(rows[0].ns);
  const double harness_min = least(rows[0].ns);
  const double floor = median(rows[1].ns) - harness;
  const double floor_min = least(rows[1].ns) - harness_min;
  std::printf(
      "\nXDP program cost under BPF_PROG_TEST_RUN, repeat %u, 64-byte UDP as received on n0, "
      "ns/packet (%d runs each, interleaved; median and minimum with the harness's subtracted, "
      "then each run; the minimum is the steadier figure on a loaded machine):\n",
      repeat, runs);
  std::printf("  %-38s %7.1f %7.1f   (restores the headers, tail-calls the program)\n",
              rows[0].name.c_str(), harness, harness_min);
  for (size_t i = 1; i < rows.size(); ++i) {
    const double net = median(rows[i].ns) - harness;
    const double net_min = least(rows[i].ns) - harness_min;
    std::printf("  %-38s %7.1f %7.1f ", rows[i].name.c_str(), net, net_min);
    for (double x : rows[i].ns) std::printf(" %4.0f", x);
    if (i > 1) std::printf("   floor/xgate %.2f (min %.2f)", floor / net, floor_min / net_min);
    std::printf("\n");
  }
  return ok;
}

xgate::compiler::Snapshot BenchSnapshot() {
  xgate::compiler::Snapshot s;
  xgate::compiler::L4Listener l;
  l.gateway = "bench/gw";
  l.listener = "udp";
  l.address = "198.18.100.10";
  l.port = 5432;
  l.protocol = IPPROTO_UDP;
  l.backends = {{"198.18.1.2", 5432, 1000000, "bench/sink"}};
  s.l4.push_back(l);
  return s;
}

// The sink as a pod on this node: the record xgate-cni and the agent would write for it
// (maps/local_pod.h), so xgate reaches it without the FIB.
bool RecordSinkAsLocalPod(const std::string& pin_root) {
  auto pods =
      xgate::maps::LocalPodMap::OpenPinned(xgate::maps::PinPath(pin_root, xgate::maps::kLocalPods));
  if (!pods.ok()) return false;
  xg_local_pod_key key{};
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 1, 2};
  std::memcpy(key.addr, mapped, 16);
  xg_local_pod pod{};
  pod.ifindex = if_nametoindex("n1");
  const uint8_t macs[12] = {2, 0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 1};  // b1 (the pod), n1 (host)
  std::memcpy(pod.pod_mac, macs, 6);
  std::memcpy(pod.host_mac, macs + 6, 6);
  pod.family = XG_FAMILY_V4;
  return pod.ifindex != 0 && pods->Update(key, pod).ok();
}

// Puts one peer in place in the node namespace: xgate (the L4 applier on n0 and n1; with
// "xgate-local", the sink recorded as a local pod), nftables DNAT, or the floor.
bool SetUpPeer(bench_bpf* skel, const std::string& peer, const std::string& pin_root,
               std::unique_ptr<xgate::l4::L4Applier>* applier) {
  const std::string node = Ns("node");
  if (!EnterNs(node)) return false;
  int pass_fd = bpf_program__fd(skel->progs.bench_pass);
  if (peer == "xgate" || peer == "xgate-local") {
    auto a = xgate::l4::L4Applier::Create({pin_root, {"n0", "n1"}});
    if (!a.ok()) return false;
    *applier = std::move(*a);
    return (*applier)->Apply(BenchSnapshot()).ok() &&
           (peer == "xgate" || RecordSinkAsLocalPod(pin_root));
  }
  if (peer == "nftables") {
    return Sh("ip netns exec " + node +
              " nft 'add table ip xgbench; add chain ip xgbench pre { type nat hook "
              "prerouting priority -100; }; add rule ip xgbench pre ip daddr 198.18.100.10 "
              "udp dport 5432 dnat to 198.18.1.2:5432'") &&
           AttachXdp(node, "n0", pass_fd);
  }
  return AttachXdp(node, "n0", bpf_program__fd(skel->progs.bench_floor)) &&
         AttachXdp(node, "n1", pass_fd);
}

void TearDownPeer(const std::string& peer, const std::string& pin_root,
                  xgate::l4::L4Applier* applier) {
  const std::string node = Ns("node");
  EnterNs(node);
  if (applier) {
    if (std::getenv("XGATE_BENCH_DEBUG")) {
      std::system(("ip -n " + node + " -d link show n0 >&2").c_str());
      auto paths = xgate::maps::TrafficCounters::OpenPinned(
          xgate::maps::PinPath(pin_root, xgate::maps::kPathStats));
      auto drops = xgate::maps::TrafficCounters::OpenPinned(
          xgate::maps::PinPath(pin_root, xgate::maps::kDropStats));
      for (uint32_t i = 0; paths.ok() && i < XG_PATH_MAX; ++i)
        std::fprintf(stderr, "%s path %s: %llu\n", peer.c_str(), xgate::maps::PathName(i).data(),
                     static_cast<unsigned long long>(paths->Read(i)->packets));
      for (uint32_t i = 0; drops.ok() && i < XG_DROP_MAX; ++i)
        std::fprintf(stderr, "%s drop %s: %llu\n", peer.c_str(), xgate::maps::DropName(i).data(),
                     static_cast<unsigned long long>(drops->Read(i)->packets));
    }
    applier->Stop(/*detach=*/true);
  } else if (peer == "nftables") {
    Sh("ip netns exec " + node + " nft delete table ip xgbench");
    DetachXdp(node, "n0");
  } else {
    DetachXdp(node, "n0");
    DetachXdp(node, "n1");
  }
}

// Mpps per round, the median and best, and the forwarder's CPU per packet (n0's NAPI
// threads): when the generator cannot saturate the forwarder, Mpps are the generator's and
// the CPU column is the one that compares the peers.
void PrintDeliveryTable(const char* title, uint32_t flows, uint64_t packets,
                        const std::vector<std::string>& peers,
                        std::map<std::string, std::vector<Delivery>>& runs) {
  std::map<std::string, double> median, best, cpu;
  std::printf("L4 UDP forwarding, %s; 64-byte frames, %u flows, %llu packets per run:\n", title,
              flows, static_cast<unsigned long long>(packets));
  std::printf("  %-11s %-26s %8s %8s %14s\n", "peer", "rounds (Mpps)", "median", "best",
              "NAPI ns/packet");
  for (const std::string& peer : peers) {
    std::vector<double> mpps, ns;
    std::string rounds;
    for (const Delivery& d : runs[peer]) {
      mpps.push_back(d.pps / 1e6);
      ns.push_back(d.napi_ns_packet);
      absl::StrAppend(&rounds, absl::StrFormat("%.3f ", d.pps / 1e6));
    }
    std::sort(mpps.begin(), mpps.end());
    std::sort(ns.begin(), ns.end());
    median[peer] = mpps[mpps.size() / 2];
    best[peer] = mpps.back();
    cpu[peer] = ns[ns.size() / 2];
    std::printf("  %-11s %-26s %8.3f %8.3f %14.1f\n", peer.c_str(), rounds.c_str(), median[peer],
                best[peer], cpu[peer]);
  }
  // Medians are what the targets are about; on a shared machine the best round of each is
  // the one least disturbed, so both are shown.
  auto ratio = [&](const char* a, const char* b) {
    if (!median.count(a) || !median.count(b)) return;
    std::printf("  %s/%s: Mpps %.2f (best rounds %.2f), NAPI CPU per packet %.2f\n", a, b,
                median[a] / median[b], best[a] / best[b], cpu[b] / cpu[a]);
  };
  ratio("xgate", "nftables");
  ratio("xgate", "floor");
  ratio("xgate-local", "xgate");
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  uint64_t packets = 2000000;
  std::vector<uint32_t> flow_counts = {256, 1024};
  uint32_t repeat = 1000000;
  int cost_runs = 5;
  bool misses = true;
  CLI::App app(
      "Packets/s through the node with xgate's XDP fast path, nftables DNAT and a bare XDP "
      "redirect (the floor), in network namespaces; prints Mpps and ratios. Needs root.",
      "xgate-bench-l4");
  app.add_option("--rounds", rounds, "Rounds (0: a test run only)")->capture_default_str();
  app.add_option("--packets", packets, "Packets a round")->capture_default_str();
  app.add_option("--flows", flow_counts, "Distinct flows: each count is a table of its own")
      ->delimiter(',')
      ->check(CLI::Range(1u, 50000u))
      ->capture_default_str();
  app.add_option("--repeat", repeat, "BPF_PROG_TEST_RUN repeat count")->capture_default_str();
  app.add_option("--cost-runs", cost_runs, "Interleaved BPF_PROG_TEST_RUN runs of each program")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_flag("!--no-miss", misses, "Leave out the conntrack-miss row (a new flow every packet)");
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  spdlog::set_level(spdlog::level::warn);
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench: needs root\n");
    return 2;
  }
  g_id = std::to_string(getpid());
  // Our own mount namespace and bpffs: the named network namespaces and pins vanish with us.
  if (unshare(CLONE_NEWNS) || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
      mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
    std::perror("bench: private mount namespace with bpffs");
    return 2;
  }
  if (!BuildTopology()) {
    Cleanup();
    return 2;
  }

  bench_bpf* skel = bench_bpf__open();
  if (!skel) return 2;
  std::vector<uint8_t> frame = Frame();
  if (!EnterNs(Ns("node"))) return 2;
  skel->rodata->floor_ifindex = if_nametoindex("n1");
  const uint8_t dmac[6] = {2, 0, 0, 0, 1, 2}, smac[6] = {2, 0, 0, 0, 1, 1};
  for (int i = 0; i < 6; ++i) {
    skel->rodata->floor_dmac[i] = dmac[i];
    skel->rodata->floor_smac[i] = smac[i];
  }
  skel->rodata->floor_daddr = htonl(0xc6120102);  // 198.18.1.2, the sink
  skel->rodata->floor_dport = htons(5432);
  if (bench_bpf__load(skel)) {
    std::fprintf(stderr, "bench: loading the bench programs failed\n");
    Cleanup();
    return 2;
  }
  std::memcpy(skel->bss->harness_frame, frame.data(), sizeof(skel->bss->harness_frame));
  Generator gen;
  if (!gen.Open()) {
    std::perror("bench: the generator's packet socket on c0");
    Cleanup();
    return 2;
  }
  const std::string node = Ns("node");
  // n0's NAPI polled by a kernel thread of its own, on CPU 1: the generator (CPU 0) and the
  // forwarding under test do not share a CPU. Set after each peer attached its XDP program to
  // n0 (a veth has NAPI only then, and attaching may make it anew).
  const std::set<int> napi_before = NodeNapiThreads();
  auto pin_napi = [&] {
    if (!Sh("ip netns exec " + node + " sh -c 'echo 1 > /sys/class/net/n0/threaded'"))
      std::fprintf(stderr, "bench: threaded NAPI on n0 failed\n");
    for (int pid : NodeNapiThreads()) {
      if (!napi_before.count(pid) && !PinTo(pid, 1)) std::perror("bench: pinning n0's NAPI thread");
    }
  };
  const std::string pin_root = "/sys/fs/bpf/xgate-bench-" + g_id;
  struct Variant {
    const char* title;
    bool napi;
    std::vector<std::string> peers;
  };
  const std::vector<Variant> variants = {
      {"NAPI on the sink's veth end (XDP sink): xgate redirects by XDP",
       true,
       {"xgate", "xgate-local", "nftables", "floor"}},
      {"plain sink veth end (TC sink, as a pod's interface): xgate's TC sends",
       false,
       {"xgate", "xgate-local", "nftables"}},
  };
  xgate::l4::TcAttachment tc_sink;
  tc_sink.ifname = "b1";
  tc_sink.link_pin = "/sys/fs/bpf/xgate-bench-sink-" + g_id;
  tc_sink.what = "bench sink";
  bool cost_ok = true;
  for (const Variant& variant : variants) {
    bool sink_ok =
        variant.napi
            ? AttachXdp(Ns("sink"), "b1", bpf_program__fd(skel->progs.bench_sink))
            : EnterNs(Ns("sink")) &&
                  xgate::l4::AttachTcProgram(bpf_program__fd(skel->progs.bench_sink_tc), tc_sink)
                      .ok();
    if (!sink_ok) {
      std::fprintf(stderr, "bench: attaching the sink failed\n");
      Cleanup();
      return 2;
    }
    for (uint32_t flows : flow_counts) {
      gen.SetFlows(flows);
      std::map<std::string, std::vector<Delivery>> runs;
      for (int r = 0; r < rounds; ++r) {
        for (const std::string& peer : variant.peers) {
          std::unique_ptr<xgate::l4::L4Applier> applier;
          if (!SetUpPeer(skel, peer, pin_root, &applier)) {
            std::fprintf(stderr, "bench: setting up %s failed\n", peer.c_str());
            Cleanup();
            return 1;
          }
          pin_napi();
          Measure(skel, gen, packets / 10);  // warm up (conntrack entries, neighbours, caches)
          runs[peer].push_back(Measure(skel, gen, packets));
          TearDownPeer(peer, pin_root, applier.get());
        }
      }
      if (rounds > 0) PrintDeliveryTable(variant.title, flows, packets, variant.peers, runs);
    }
    std::fflush(stdout);
    if (variant.napi) {
      // The per-packet cost of the XDP redirect path, while the sink's end has NAPI.
      EnterNs(node);
      cost_ok =
          MeasureProgramCost(skel, pin_root + "-testrun", repeat, flow_counts, cost_runs, misses);
      DetachXdp(Ns("sink"), "b1");
    } else {
      EnterNs(Ns("sink"));
      xgate::l4::DetachTcProgram(tc_sink);
    }
  }
  bench_bpf__destroy(skel);
  Cleanup();
  return cost_ok ? 0 : 1;
}
