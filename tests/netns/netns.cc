#include "tests/netns/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>

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

bool PrivilegeRequired() {
  const char* req = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  return req && std::string(req) == "1";
}

}  // namespace xgate::e2e
