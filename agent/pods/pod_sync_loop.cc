#include "agent/pods/pod_sync_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace xgate::pods {

absl::StatusOr<std::unique_ptr<PodSyncLoop>> PodSyncLoop::Start(const PodAttachments& attachments,
                                                                std::function<void()> sync,
                                                                std::chrono::milliseconds resync) {
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) return absl::ErrnoToStatus(errno, "eventfd");
  std::optional<LinkWatch> links;
  if (auto opened = LinkWatch::Open(); opened.ok()) {
    links.emplace(*std::move(opened));
  } else {
    spdlog::warn("{}: vanished pod interfaces are noticed by a resync every {} ms",
                 opened.status().ToString(), kFallbackResync.count());
    resync = std::min(resync, kFallbackResync);
  }
  std::unique_ptr<PodSyncLoop> loop(
      new PodSyncLoop(attachments, std::move(sync), resync, std::move(links), stop_fd));
  loop->thread_ = std::thread([p = loop.get()] { p->Run(); });
  return loop;
}

PodSyncLoop::~PodSyncLoop() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  close(stop_fd_);
}

void PodSyncLoop::Run() {
  pollfd fds[3] = {{stop_fd_, POLLIN, 0},
                   {attachments_.change_fd(), POLLIN, 0},
                   {links_ ? links_->fd() : -1, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, 3, static_cast<int>(resync_.count()));
    if (n < 0 && errno != EINTR) {
      spdlog::error("pod event loop: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents != 0) attachments_.ConsumeChanges();
    if (fds[2].revents != 0) {
      LinkWatch::Events events = links_->Drain();
      if (events.overflowed) spdlog::warn("rtnetlink: notifications lost; resyncing the pods");
      if (!events.deleted.empty()) {
        spdlog::debug("interfaces gone: {}", absl::StrJoin(events.deleted, ", "));
      }
      // Only an interface gone (or a lost notification) can change what the pods have.
      if (!events.overflowed && events.deleted.empty() && fds[1].revents == 0) continue;
    }
    sync_();
  }
}

}  // namespace xgate::pods
