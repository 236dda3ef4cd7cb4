// Files replaced in one step, for readers that must never see half of one (the agent reading
// records, a container runtime reading the node's CNI configuration or executing a plugin).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace xgate::cni {

// Writes `text` to a temporary file beside `path` (its name starts with a dot, so folder
// readers matching on a suffix skip it), gives it `mode`, and renames it over `path`.
absl::Status ReplaceFile(const std::filesystem::path& path, const std::string& text,
                         mode_t mode = 0644);

}  // namespace xgate::cni
