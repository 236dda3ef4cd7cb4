// The environment BPF tests run in: root, a private mount namespace with a bpffs at
// /sys/fs/bpf, and a network namespace of their own with a veth pair, routes and neighbours
// so bpf_fib_lookup has answers. Nothing is visible outside the test process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xgate::testing {

// Enters the namespaces and builds the network once per process. Returns an empty string
// on success, else why it could not (the caller skips or fails per XGATE_REQUIRE_PRIVILEGED).
std::string EnterBpfTestEnvironment();

// True when XGATE_REQUIRE_PRIVILEGED=1.
bool PrivilegeRequired();

// The network EnterBpfTestEnvironment made: clients behind kClientIf, backends behind
// kBackendIf (both ends of one veth pair, in the test's own namespace).
inline constexpr char kClientIf[] = "xgc0";
inline constexpr char kBackendIf[] = "xgb0";
inline constexpr uint8_t kBackendMac[6] = {0x02, 0, 0, 0, 0x01, 0x02};
inline constexpr uint8_t kClientMac[6] = {0x02, 0, 0, 0, 0x00, 0x02};
inline constexpr uint8_t kBackendIfMac[6] = {0x02, 0, 0, 0, 0x01, 0x01};  // kBackendIf's own

struct RunResult {
  int err = 0;  // from bpf_prog_test_run_opts
  uint32_t retval = 0;
  std::vector<uint8_t> out;
};

// BPF_PROG_TEST_RUN of an XDP program, optionally as received on `ingress_ifindex`.
RunResult RunXdp(int prog_fd, const std::vector<uint8_t>& frame, int ingress_ifindex = 0);
// BPF_PROG_TEST_RUN of a TC program.
RunResult RunTc(int prog_fd, const std::vector<uint8_t>& frame, int ingress_ifindex = 0);

int IfIndex(const char* name);

}  // namespace xgate::testing
