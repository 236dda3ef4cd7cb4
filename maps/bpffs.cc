#include "maps/bpffs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::maps {
namespace {

bool PathIsBpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

// What differs between a pinned map's layout and the object's: type, sizes, flags.
std::string LayoutChanges(const bpf_map_info& pinned, const bpf_map* built) {
  std::string changed;
  auto differs = [&](const char* what, uint32_t was, uint32_t is) {
    if (was != is)
      absl::StrAppend(&changed, changed.empty() ? "" : ", ", what, " ", was, " -> ", is);
  };
  differs("type", pinned.type, bpf_map__type(built));
  differs("key size", pinned.key_size, bpf_map__key_size(built));
  differs("value size", pinned.value_size, bpf_map__value_size(built));
  differs("max entries", pinned.max_entries, bpf_map__max_entries(built));
  differs("flags", pinned.map_flags, bpf_map__map_flags(built));
  return changed;
}

// A map of maps only takes inner maps like its template, which its info does not show: compare
// the object's template with an inner map the pinned one holds. Empty: nothing to compare, and
// nothing lost by making it again (nullopt).
std::optional<std::string> InnerLayoutChanges(int outer_fd, const bpf_map* inner) {
  uint32_t key = 0;
  uint32_t next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(outer_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    uint32_t id = 0;
    if (bpf_map_lookup_elem(outer_fd, &key, &id) != 0) continue;
    int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    int err = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    if (err == 0) return LayoutChanges(info, inner);
  }
  return std::nullopt;
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

absl::StatusOr<int> ReplaceIncompatiblePins(bpf_object* obj) {
  int replaced = 0;
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const char* path = bpf_map__pin_path(map);
    if (!path) continue;
    int fd = bpf_obj_get(path);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return absl::InternalError(absl::StrCat("opening pinned ", path, ": ", std::strerror(errno)));
    }
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
      int saved = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("reading pinned ", path, ": ", std::strerror(saved)));
    }
    std::string changed = LayoutChanges(info, map);
    bool empty_outer = false;
    if (const bpf_map* inner = bpf_map__inner_map(map); inner && changed.empty()) {
      std::optional<std::string> inner_changed = InnerLayoutChanges(fd, inner);
      empty_outer = !inner_changed;
      if (inner_changed && !inner_changed->empty()) changed = "inner map " + *inner_changed;
    }
    close(fd);
    if (empty_outer) {
      // Made again by the load, with the object's inner template.
      if (unlink(path) != 0 && errno != ENOENT) {
        return absl::InternalError(absl::StrCat("unpinning ", path, ": ", std::strerror(errno)));
      }
      continue;
    }
    if (changed.empty()) continue;
    if (unlink(path) != 0) {
      return absl::InternalError(absl::StrCat("unpinning ", path, ": ", std::strerror(errno)));
    }
    spdlog::warn("pinned map {} has another layout ({}): replaced, its entries dropped", path,
                 changed);
    ++replaced;
  }
  return replaced;
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
