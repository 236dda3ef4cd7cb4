#include "tests/bpf/bpf_env.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "maps/bpffs.h"

namespace xgate::testing {
namespace {

bool Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

bool WriteSysctl(const char* path, const char* value) {
  std::ofstream f(path);
  f << value;
  return static_cast<bool>(f);
}

std::string Setup() {
  if (geteuid() != 0) return "needs root";
  if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
    return std::string("unshare: ") + std::strerror(errno);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("making / private: ") + std::strerror(errno);
  // A fresh bpffs of our own: pins made here vanish with the test process.
  if (mount("bpffs", maps::kBpffsMount, "bpf", 0, "mode=0700") != 0)
    return std::string("mounting bpffs: ") + std::strerror(errno);
  if (!WriteSysctl("/proc/sys/net/ipv4/ip_forward", "1") ||
      !WriteSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
    return "enabling forwarding in the test namespace";
  const char* cmds[] = {
      "ip link set lo up",
      "ip link add xgc0 type veth peer name xgb0",
      "ip link set xgc0 address 02:00:00:00:00:01",
      "ip link set xgb0 address 02:00:00:00:01:01",
      "ip link set xgc0 up",
      "ip link set xgb0 up",
      "ip addr add 198.18.0.1/24 dev xgc0",
      "ip addr add 198.18.1.1/24 dev xgb0",
      "ip -6 addr add fd00:0::1/64 dev xgc0 nodad",
      "ip -6 addr add fd00:1::1/64 dev xgb0 nodad",
      "ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev xgc0 nud permanent",
      "ip neigh replace 198.18.1.2 lladdr 02:00:00:00:01:02 dev xgb0 nud permanent",
      "ip neigh replace 198.18.1.3 lladdr 02:00:00:00:01:02 dev xgb0 nud permanent",
      "ip -6 neigh replace fd00:0::2 lladdr 02:00:00:00:00:02 dev xgc0 nud permanent",
      "ip -6 neigh replace fd00:1::2 lladdr 02:00:00:00:01:02 dev xgb0 nud permanent",
  };
  for (const char* cmd : cmds) {
    if (!Run(cmd)) return std::string("failed: ") + cmd;
  }
  return "";
}

}  // namespace

std::string EnterBpfTestEnvironment() {
  static const std::string result = Setup();
  return result;
}

bool PrivilegeRequired() {
  const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  return req && std::string(req) == "1";
}

int IfIndex(const char* name) { return static_cast<int>(if_nametoindex(name)); }

RunResult RunXdp(int prog_fd, const std::vector<uint8_t>& frame, int ingress_ifindex) {
  RunResult r;
  r.out.resize(frame.size() + 256);
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(ingress_ifindex);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = r.out.data();
  opts.data_size_out = static_cast<uint32_t>(r.out.size());
  if (ingress_ifindex) {
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  opts.repeat = 1;
  r.err = bpf_prog_test_run_opts(prog_fd, &opts) ? errno : 0;
  r.retval = opts.retval;
  r.out.resize(opts.data_size_out);
  return r;
}

RunResult RunTc(int prog_fd, const std::vector<uint8_t>& frame, int ingress_ifindex) {
  RunResult r;
  r.out.resize(frame.size() + 256);
  __sk_buff ctx{};
  ctx.ingress_ifindex = static_cast<uint32_t>(ingress_ifindex);
  ctx.ifindex = static_cast<uint32_t>(ingress_ifindex);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = r.out.data();
  opts.data_size_out = static_cast<uint32_t>(r.out.size());
  if (ingress_ifindex) {
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  opts.repeat = 1;
  r.err = bpf_prog_test_run_opts(prog_fd, &opts) ? errno : 0;
  r.retval = opts.retval;
  r.out.resize(opts.data_size_out);
  return r;
}

}  // namespace xgate::testing
