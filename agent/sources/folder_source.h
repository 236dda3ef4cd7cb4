// The standalone source: a folder of manifests, read into the object store (only the files
// that changed since the previous read are read again).
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>

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
  // What a file looked like when it was read: a file whose stat is the same is not read
  // again, unless it was changed so shortly before that read that a later write may have
  // left the same size and timestamp (file timestamps are coarse), as git does.
  struct ReadFile {
    struct stat seen;
    bool settled = false;
    SharedText text;
  };
  // The file's document: its text as read before when it is unchanged since, else read now.
  Document Read(const std::filesystem::path& path, std::map<std::filesystem::path, ReadFile>& next);

  const std::filesystem::path dir_;
  ObjectStore& store_;
  std::map<std::filesystem::path, ReadFile> read_;
};

}  // namespace xgate::sources
