#include "cni-hooks/xgate-cni/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xgate::cni {

absl::Status ReplaceFile(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::string tmp = (path.parent_path() / absl::StrCat(".", path.filename().string(), ".XXXXXX"));
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write in ", path.parent_path().string(), ": ", strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = done == text.size() && fchmod(fd, mode) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace xgate::cni
