#include "maps/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::maps {
namespace {

bool PathIsBpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

}  // namespace

bool IsOnBpffs(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  while (!p.empty() && !std::filesystem::exists(p, ec)) {
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return PathIsBpffs(p.string());
}

absl::Status EnsureBpffsMounted() {
  if (PathIsBpffs(kBpffsMount)) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(kBpffsMount, ec);
  if (mount("bpffs", kBpffsMount, "bpf", 0, "mode=0700") != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("mounting a bpffs at ", kBpffsMount, ": ", std::strerror(errno)));
  }
  spdlog::info("mounted a bpffs at {}", kBpffsMount);
  return absl::OkStatus();
}

absl::Status PreparePinRoot(const std::string& root) {
  if (root.empty() || root.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat("pin root '", root, "' is not absolute"));
  }
  if (absl::Status s = EnsureBpffsMounted(); !s.ok()) return s;
  if (!IsOnBpffs(root)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pin root ", root, " is not on a bpffs (mount one with: mount -t bpf bpffs <dir>)"));
  }
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("creating pin root ", root, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status RemovePinRoot(const std::string& root) {
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return absl::OkStatus();
  // bpffs directories are removed one entry at a time (remove_all works too, but keep the
  // first failing path in the error).
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (entry.is_directory()) continue;
    if (unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(
          absl::StrCat("unpinning ", entry.path().string(), ": ", std::strerror(errno)));
    }
  }
  std::filesystem::remove_all(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("removing ", root, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace xgate::maps
