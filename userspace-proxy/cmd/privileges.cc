#include "userspace-proxy/cmd/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::proxy {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::PermissionDeniedError(absl::StrCat(what, ": ", std::strerror(errno)));
}

struct Capabilities {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};

absl::Status GetCapabilities(Capabilities* out) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Errno("capget");
  auto join = [](uint32_t low, uint32_t high) { return uint64_t{high} << 32 | low; };
  out->effective = join(data[0].effective, data[1].effective);
  out->permitted = join(data[0].permitted, data[1].permitted);
  out->inheritable = join(data[0].inheritable, data[1].inheritable);
  return absl::OkStatus();
}

absl::Status SetCapabilities(const Capabilities& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) != 0) return Errno("capset");
  return absl::OkStatus();
}

uint64_t Bit(int cap) { return uint64_t{1} << cap; }

absl::Status OnlyThread() {
  std::error_code error;
  auto tasks = std::filesystem::directory_iterator("/proc/self/task", error);
  if (error) return absl::UnavailableError("/proc/self/task: " + error.message());
  int count = 0;
  for (const auto& entry : tasks) count += entry.is_directory() ? 1 : 0;
  if (count != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("privileges must be dropped before any thread starts (", count, " threads)"));
  }
  return absl::OkStatus();
}

struct Identity {
  uid_t uid;
  gid_t gid;
};

absl::StatusOr<Identity> LookUp(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd entry{}, *found = nullptr;
  int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found) return Identity{found->pw_uid, found->pw_gid};
  uint32_t uid = 0;
  if (rc == 0 && absl::SimpleAtoi(user, &uid)) {
    rc = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    return Identity{uid, found ? found->pw_gid : static_cast<gid_t>(uid)};
  }
  return absl::NotFoundError(absl::StrCat("--user ", user, ": no such user",
                                          rc ? absl::StrCat(" (", std::strerror(rc), ")") : ""));
}

absl::Status SwitchUser(const std::string& user, uint64_t keep) {
  auto identity = LookUp(user);
  if (!identity.ok()) return identity.status();
  // Keep the permitted set across the uid change (the effective set is cleared by it).
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Errno("PR_SET_KEEPCAPS");
  if (setgroups(0, nullptr) != 0) return Errno("--user " + user + ": setgroups");
  if (setresgid(identity->gid, identity->gid, identity->gid) != 0) {
    return Errno("--user " + user + ": setresgid");
  }
  if (setresuid(identity->uid, identity->uid, identity->uid) != 0) {
    return Errno("--user " + user + ": setresuid");
  }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  Capabilities now;
  if (auto status = GetCapabilities(&now); !status.ok()) return status;
  if ((now.permitted & keep) != keep) {
    return absl::PermissionDeniedError("--user " + user + ": capabilities lost with the uid");
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t KeptCapabilities() {
  return Bit(CAP_NET_BIND_SERVICE) | Bit(CAP_NET_ADMIN) | Bit(CAP_BPF);
}

absl::Status DropPrivileges(const std::string& user) {
  if (auto status = OnlyThread(); !status.ok()) return status;
  Capabilities caps;
  if (auto status = GetCapabilities(&caps); !status.ok()) return status;
  const uint64_t keep = KeptCapabilities() & caps.permitted;
  if (caps.permitted & Bit(CAP_SETPCAP)) {
    // Nothing dropped can come back: not through exec (bounding set), and uid 0 gets no
    // capabilities from exec either (securebits, locked).
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      if (!(keep & Bit(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        return Errno(absl::StrCat("PR_CAPBSET_DROP ", cap));
      }
    }
    int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) return Errno("PR_SET_SECUREBITS");
  }
  if (!user.empty()) {
    if (!(caps.permitted & Bit(CAP_SETUID)) || !(caps.permitted & Bit(CAP_SETGID))) {
      return absl::PermissionDeniedError("--user " + user + ": needs CAP_SETUID and CAP_SETGID");
    }
    if (auto status = SwitchUser(user, keep); !status.ok()) return status;
  }
  if (auto status = SetCapabilities({keep, keep, 0}); !status.ok()) return status;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("PR_SET_NO_NEW_PRIVS");
  spdlog::info("privileges dropped: uid {}, capabilities {:#x} (of {:#x})", getuid(), keep,
               caps.permitted);
  return absl::OkStatus();
}

}  // namespace xgate::proxy
