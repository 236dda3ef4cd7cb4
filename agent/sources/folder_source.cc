#include "agent/sources/folder_source.h"

#include "absl/strings/str_format.h"

namespace xgate::sources {

constexpr char kFolderSource[] = "folder";

absl::Status FolderSource::Sync() {
  auto files = model::ReadManifestFolder(dir_);
  if (!files.ok()) {
    store_.SetError(kFolderSource, files.status());
    return files.status();
  }
  std::map<std::string, Document> documents;
  for (size_t i = 0; i < files->size(); ++i) {
    model::ManifestFile& f = (*files)[i];
    // Keyed by position: the store loads them in the folder's path order.
    std::string key = absl::StrFormat("%08d", i);
    documents[key] = Document{f.path.string(), std::move(f.text), nullptr, !f.readable};
  }
  store_.Replace(kFolderSource, std::move(documents));
  return absl::OkStatus();
}

}  // namespace xgate::sources
