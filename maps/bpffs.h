// The BPF filesystem: pins need one, and libxdp's dispatcher needs one at /sys/fs/bpf.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct bpf_object;

namespace xgate::maps {

inline constexpr char kBpffsMount[] = "/sys/fs/bpf";

// True when `path` (or, if it does not exist yet, its nearest existing parent) is on a bpffs.
bool IsOnBpffs(const std::string& path);

// Mounts a bpffs at /sys/fs/bpf when none is there (as Cilium does; `ip netns exec` shows a
// fresh /sys without one). The mount happens in the caller's mount namespace.
absl::Status EnsureBpffsMounted();

// Makes `root` usable as a pin root: mounts /sys/fs/bpf if needed, refuses a root that is
// not on a bpffs, creates the directory.
absl::Status PreparePinRoot(const std::string& root);

// Before `obj` (opened with a pin root) is loaded: a map pinned by a build whose layout differs
// (type, key or value size, entries, flags) cannot be reused, so its pin is removed (with a
// warning naming what changed) and the load creates it anew. Programs still attached keep
// the old map until they are replaced. Returns how many pins were replaced.
absl::StatusOr<int> ReplaceIncompatiblePins(bpf_object* obj);

// Removes the pins under `root` (files only, then the directory itself).
absl::Status RemovePinRoot(const std::string& root);

}  // namespace xgate::maps
