#include "agent/sources/folder_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::sources {
namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM |
                              IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// While the folder is gone, look for it again this often.
constexpr std::chrono::milliseconds kRootRetry{250};

bool IsManifestName(const std::string& name) {
  // A ConfigMap volume swaps its content in one step by renaming "..data_tmp" to "..data";
  // the visible files are symlinks through it.
  if (name == "..data") return true;
  if (name.empty() || name[0] == '.') return false;
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  return ends(".yaml") || ends(".yml") || ends(".json");
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::Create(
    const std::filesystem::path& dir) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("inotify_init1: ", std::strerror(errno)));
  std::unique_ptr<DirectoryWatcher> w(new DirectoryWatcher(fd, dir));
  if (!w->WatchTree(dir)) {
    return absl::NotFoundError(
        absl::StrCat(dir.string(), ": cannot watch: ", std::strerror(errno)));
  }
  w->root_watched_ = true;
  return w;
}

DirectoryWatcher::~DirectoryWatcher() { close(fd_); }

bool DirectoryWatcher::WatchTree(const std::filesystem::path& dir) {
  int wd = inotify_add_watch(fd_, dir.c_str(), kDirMask);
  if (wd < 0) return false;
  watches_[wd] = dir;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->is_directory(ec)) WatchTree(it->path());
  }
  return true;
}

bool DirectoryWatcher::Drain() {
  bool relevant = false;
  alignas(inotify_event) char buf[16384];
  while (true) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      std::string name = ev->len ? std::string(ev->name) : "";
      auto dir = watches_.find(ev->wd);
      if (ev->mask & IN_IGNORED) {
        if (dir != watches_.end() && dir->second == root_) root_watched_ = false;
        watches_.erase(ev->wd);
        continue;
      }
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (dir != watches_.end() && dir->second == root_) {
          // The folder was removed or renamed: forget every watch and wait for it to return.
          for (const auto& [wd, path] : watches_) inotify_rm_watch(fd_, wd);
          watches_.clear();
          root_watched_ = false;
        }
        relevant = true;
        continue;
      }
      if ((ev->mask & IN_ISDIR) && name != "..data") {
        if (!name.empty() && name[0] != '.') {
          if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && dir != watches_.end()) {
            WatchTree(dir->second / name);
          }
          relevant = true;
        }
        continue;
      }
      if (IsManifestName(name)) relevant = true;
    }
  }
  return relevant;
}

DirectoryWatcher::Event DirectoryWatcher::Wait(int stop_fd, std::chrono::milliseconds quiet,
                                               std::chrono::milliseconds most) {
  using Clock = std::chrono::steady_clock;
  bool changed = false;
  Clock::time_point first;
  while (true) {
    if (!root_watched_ && WatchTree(root_)) {
      root_watched_ = true;
      spdlog::info("{}: the folder is back", root_.string());
      if (!changed) first = Clock::now();
      changed = true;
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int timeout = -1;
    if (changed) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(first + most - Clock::now());
      if (left.count() <= 0) return Event::kChanged;  // a steady stream of changes: reload now
      timeout = static_cast<int>(std::min(quiet, left).count());
    }
    if (!root_watched_) timeout = static_cast<int>(kRootRetry.count());
    int n = poll(fds, stop_fd >= 0 ? 2 : 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll on the manifest watch: {}", std::strerror(errno));
      return Event::kStopped;
    }
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return Event::kStopped;
    if (fds[0].revents & POLLIN) {
      if (Drain() && !changed) {
        first = Clock::now();
        changed = true;
      }
      continue;
    }
    // The folder going away is a change too: the reload reports it unreadable.
    if (n == 0 && changed) return Event::kChanged;
  }
}

}  // namespace xgate::sources
