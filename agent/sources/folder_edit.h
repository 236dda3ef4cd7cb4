// `xgatectl apply` and `delete` in standalone mode: manifests are written to (or removed
// from) the watched folder, so they survive a restart and the folder stays the truth.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::sources {

struct FolderChange {
  std::vector<std::string> changed;    // "HTTPRoute foo/foo-route", each object written/removed
  std::vector<std::string> not_found;  // Delete: objects the folder does not define
};

// Writes each document of `manifest` over the document in `dir` that defines the same
// object, or as a new file named after it. A manifest that does not load is refused
// (InvalidArgument, every error with its line) and nothing is written.
absl::StatusOr<FolderChange> ApplyManifest(const std::filesystem::path& dir,
                                           std::string_view manifest, const std::string& filename);

// Removes the documents in `dir` that define the objects `manifest` names (a file left
// with no document is removed). Nothing is removed when the manifest does not load.
absl::StatusOr<FolderChange> DeleteManifest(const std::filesystem::path& dir,
                                            std::string_view manifest, const std::string& filename);

}  // namespace xgate::sources
