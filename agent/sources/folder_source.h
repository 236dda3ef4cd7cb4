// The standalone source: a folder of manifests, read whole into the object store.
#pragma once

#include <filesystem>

#include "absl/status/status.h"
#include "agent/sources/store.h"

namespace xgate::sources {

class FolderSource {
 public:
  FolderSource(std::filesystem::path dir, ObjectStore& store)
      : dir_(std::move(dir)), store_(store) {}

  // Reads every manifest of the folder into the store (replacing what the folder gave
  // before). When the folder cannot be read the store's Load fails with why, so the last
  // good state keeps serving, and that error is returned.
  absl::Status Sync();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  const std::filesystem::path dir_;
  ObjectStore& store_;
};

}  // namespace xgate::sources
