// Watches a manifest folder (recursively) with inotify.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "absl/status/statusor.h"

namespace xgate::sources {

class DirectoryWatcher {
 public:
  enum class Event { kChanged, kStopped };

  // Fails when inotify is unavailable or `dir` cannot be watched.
  static absl::StatusOr<std::unique_ptr<DirectoryWatcher>> Create(const std::filesystem::path& dir);
  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // Blocks until a manifest under the folder is added, changed, removed or moved (or the
  // folder itself goes or comes back), then until `quiet` passes with no further event, so
  // an editor's write-then-rename is one change, or `most` since the first event, so a
  // steady stream of changes does not hold every reload back. Returns kStopped as soon as
  // `stop_fd` becomes readable (pass -1 for none).
  Event Wait(int stop_fd, std::chrono::milliseconds quiet, std::chrono::milliseconds most);

 private:
  DirectoryWatcher(int fd, std::filesystem::path root) : fd_(fd), root_(std::move(root)) {}
  // Watches `dir` and every folder under it; false when `dir` cannot be watched.
  bool WatchTree(const std::filesystem::path& dir);
  // Reads the pending events; true when one of them matters to the loader.
  bool Drain();

  int fd_;
  std::filesystem::path root_;
  std::map<int, std::filesystem::path> watches_;  // watch descriptor -> folder
  bool root_watched_ = false;
};

}  // namespace xgate::sources
