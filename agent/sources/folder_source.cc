#include "agent/sources/folder_source.h"

#include <ctime>

#include "absl/strings/str_format.h"

namespace xgate::sources {

constexpr char kFolderSource[] = "folder";

namespace {

bool SameStat(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// Whether a file changed at `changed` can no longer change unseen: a second has passed
// since, more than the coarsest timestamp granularity of the file systems in use.
bool Settled(const timespec& changed) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec > changed.tv_sec + 1;
}

}  // namespace

Document FolderSource::Read(const std::filesystem::path& path,
                            std::map<std::filesystem::path, ReadFile>& next) {
  struct stat now {};
  bool stated = stat(path.c_str(), &now) == 0;
  if (auto it = read_.find(path);
      stated && it != read_.end() && it->second.settled && SameStat(it->second.seen, now)) {
    SharedText text = it->second.text;
    next.emplace(path, std::move(it->second));
    return Document{path.string(), std::move(text), nullptr, false};
  }
  model::ManifestFile file = model::ReadManifestFile(path);
  Document doc{path.string(), std::move(file.text), nullptr, !file.readable};
  if (stated && file.readable) {
    // A stat taken before the read: a write during the read shows as a changed stat next time.
    next.emplace(path, ReadFile{now, Settled(now.st_mtim) && Settled(now.st_ctim), doc.text});
  }
  return doc;
}

absl::Status FolderSource::Sync() {
  auto files = model::ListManifestFolder(dir_);
  if (!files.ok()) {
    store_.SetError(kFolderSource, files.status());
    return files.status();
  }
  std::map<std::filesystem::path, ReadFile> next;
  std::map<std::string, Document> documents;
  for (size_t i = 0; i < files->size(); ++i) {
    // Keyed by position: the store loads them in the folder's path order.
    documents[absl::StrFormat("%08d", i)] = Read((*files)[i], next);
  }
  read_ = std::move(next);
  store_.Replace(kFolderSource, std::move(documents));
  return absl::OkStatus();
}

}  // namespace xgate::sources
