#include "tests/netns/netns.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

namespace xgate::e2e {

bool Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

bool EnterNs(const std::string& name) {
  int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

std::string PrivateBpffs() {
  static const std::string result = []() -> std::string {
    if (unshare(CLONE_NEWNS) != 0) return "unshare(CLONE_NEWNS) failed";
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "mount private";
    if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) return "mounting bpffs";
    return "";
  }();
  return result;
}

bool InNamespace(const std::string& ns, const std::function<bool()>& fn) {
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return false;
  bool ok = EnterNs(ns) && fn();
  if (setns(home, CLONE_NEWNET) != 0) ok = false;
  close(home);
  return ok;
}

bool AttachXdpPass(const std::string& ifname) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "pass", "GPL", insns, 2, nullptr);
  if (fd < 0) return false;
  bool ok = bpf_xdp_attach(static_cast<int>(if_nametoindex(ifname.c_str())), fd, XDP_FLAGS_DRV_MODE,
                           nullptr) == 0;
  close(fd);
  return ok;
}

bool SetGro(const std::string& ifname, bool on) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ethtool_value value{ETHTOOL_SGRO, on ? 1u : 0u};
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&value);
  bool ok = ioctl(fd, SIOCETHTOOL, &ifr) == 0;
  close(fd);
  return ok;
}

bool PrivilegeRequired() {
  const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  return req && std::string(req) == "1";
}

int WaitForExit(pid_t& pid, std::chrono::milliseconds within) {
  for (auto end = std::chrono::steady_clock::now() + within;
       std::chrono::steady_clock::now() < end;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

}  // namespace xgate::e2e
