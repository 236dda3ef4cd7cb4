#include "agent/l7/proxy_user.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::l7 {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::PermissionDeniedError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The first folder above `folder` the user cannot pass through (no search permission for it
// as owner, group or other), or "" when it reaches `folder`. Supplementary groups are not
// looked at: the proxy runs with its primary group only.
std::string BlockingAncestor(const std::filesystem::path& folder, const ProxyUser& user) {
  for (std::filesystem::path p = folder.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) {
      mode_t bit = st.st_uid == user.uid ? S_IXUSR : st.st_gid == user.gid ? S_IXGRP : S_IXOTH;
      if (!(st.st_mode & bit)) return p.string();
    }
    if (p == p.root_path()) break;
  }
  return "";
}

}  // namespace

absl::StatusOr<ProxyUser> LookUpProxyUser(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{}, *found = nullptr;
  getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found) return ProxyUser{name, found->pw_uid, found->pw_gid};
  uint32_t uid = 0;
  if (!absl::SimpleAtoi(name, &uid)) {
    return absl::NotFoundError(
        absl::StrCat("--proxy-user ", name, ": no such user (give a user name or a numeric uid)"));
  }
  if (uid == 0) return absl::InvalidArgumentError("--proxy-user 0: root is the default");
  getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
  return ProxyUser{name, uid, found ? found->pw_gid : static_cast<gid_t>(uid)};
}

absl::Status PrepareProxyFolder(const std::string& folder, const ProxyUser& user) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) return absl::UnavailableError(absl::StrCat(folder, ": ", error.message()));
  if (std::string blocking = BlockingAncestor(folder, user); !blocking.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--proxy-user ", user.name, ": the proxy could not reach its sockets in ",
                     folder, ": ", blocking, " is not searchable by uid ", user.uid,
                     " (give it o+x, or put --admin-socket elsewhere)"));
  }
  // chmod while the agent owns it (after the chown it would need CAP_FOWNER); a directory
  // keeps its setgid bit through chown.
  if (chmod(folder.c_str(), 02770) != 0) return Errno("chmod 2770 " + folder);
  if (chown(folder.c_str(), user.uid, getegid()) != 0) {
    return Errno(absl::StrCat("--proxy-user ", user.name, ": chown ", folder,
                              " (the agent needs CAP_CHOWN)"));
  }
  return absl::OkStatus();
}

absl::Status HandOverSocket(const std::string& socket_path, const ProxyUser& user) {
  if (chown(socket_path.c_str(), user.uid, user.gid) != 0) {
    return Errno(absl::StrCat("--proxy-user ", user.name, ": chown ", socket_path,
                              " (the agent needs CAP_CHOWN)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ProxyUser>> PrepareProxyUser(const std::string& name,
                                                          const std::string& socket_path) {
  if (name.empty()) return std::nullopt;
  auto user = LookUpProxyUser(name);
  if (!user.ok()) return user.status();
  std::string folder = std::filesystem::path(socket_path).parent_path().string();
  if (absl::Status s = PrepareProxyFolder(folder, *user); !s.ok()) return s;
  spdlog::info("xgate-proxy runs as uid {} gid {} (--proxy-user {}) in {}", user->uid, user->gid,
               name, folder);
  return *user;
}

std::vector<std::string> ProxyUserArgs(const ProxyUser* user) {
  if (user == nullptr) return {};
  return {"--user", std::to_string(user->uid)};
}

}  // namespace xgate::l7
