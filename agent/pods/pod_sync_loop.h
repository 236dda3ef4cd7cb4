// The pods' event loop: one thread that runs `sync` (PodDatapath::Sync and what follows it)
// when xgate-cni reports an ADD or DEL, when an interface vanishes (rtnetlink RTM_DELLINK,
// link_watch.h: a pod gone without a DEL), and every `resync` as a safety net for a lost
// notification. Without rtnetlink (the socket refused) it falls back to a resync every second.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "agent/pods/link_watch.h"
#include "agent/pods/pod_attachments.h"

namespace xgate::pods {

class PodSyncLoop {
 public:
  static constexpr std::chrono::milliseconds kFallbackResync{1000};

  // Starts the thread; the first `sync` runs at the first event or after `resync`.
  static absl::StatusOr<std::unique_ptr<PodSyncLoop>> Start(const PodAttachments& attachments,
                                                            std::function<void()> sync,
                                                            std::chrono::milliseconds resync);
  ~PodSyncLoop();  // stops the thread (a `sync` under way finishes first)
  PodSyncLoop(const PodSyncLoop&) = delete;
  PodSyncLoop& operator=(const PodSyncLoop&) = delete;

 private:
  PodSyncLoop(const PodAttachments& attachments, std::function<void()> sync,
              std::chrono::milliseconds resync, std::optional<LinkWatch> links, int stop_fd)
      : attachments_(attachments),
        sync_(std::move(sync)),
        resync_(resync),
        links_(std::move(links)),
        stop_fd_(stop_fd) {}
  void Run();

  const PodAttachments& attachments_;
  const std::function<void()> sync_;
  const std::chrono::milliseconds resync_;
  std::optional<LinkWatch> links_;
  const int stop_fd_;
  std::thread thread_;
};

}  // namespace xgate::pods
