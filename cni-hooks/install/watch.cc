#include "cni-hooks/install/watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::cni_install {
namespace {

using Clock = std::chrono::steady_clock;

void Drain(int fd) {
  alignas(inotify_event) char buf[4096];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

}  // namespace

absl::Status Watch(const Options& options, const WatchOptions& watch) {
  std::error_code ec;
  std::filesystem::create_directories(options.conf_dir, ec);
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return absl::InternalError(absl::StrCat("inotify: ", strerror(errno)));
  if (inotify_add_watch(fd, options.conf_dir.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE) < 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat(options.conf_dir, ": ", strerror(err)));
  }
  const Clock::time_point deadline = Clock::now() + watch.wait;
  absl::Status last = absl::OkStatus();
  while (true) {
    auto installed = Install(options);
    last = installed.status();
    if (installed.ok()) {
      if (installed->conf_written || installed->binary_written) {
        spdlog::info("xgate-cni installed in {}{}", installed->conf_file,
                     installed->binary_written ? " (binary updated)" : "");
      }
      if (watch.once) break;
    } else if (absl::IsNotFound(last)) {
      spdlog::info("waiting for a network configuration: {}", std::string(last.message()));
    } else {
      spdlog::error("cannot install xgate-cni: {}", std::string(last.message()));
      if (watch.once) break;
    }
    int timeout_ms = -1;
    if (watch.once) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      timeout_ms = static_cast<int>(left.count());
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {watch.stop_fd, POLLIN, 0}};
    int n = poll(fds, watch.stop_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      last = absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
      break;
    }
    if (n > 0 && (fds[1].revents & POLLIN)) break;
    Drain(fd);
  }
  close(fd);
  return last;
}

}  // namespace xgate::cni_install
