#include "agent/pods/pod_attachments.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spdlog/spdlog.h"

namespace xgate::pods {

PodAttachments::PodAttachments(std::string state_dir)
    : state_dir_(std::move(state_dir)), change_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (change_fd_ < 0) spdlog::critical("eventfd: {}", std::strerror(errno));
}

PodAttachments::~PodAttachments() {
  if (change_fd_ >= 0) close(change_fd_);
}

void PodAttachments::Changed() {
  ++generation_;
  uint64_t one = 1;
  (void)!write(change_fd_, &one, sizeof one);
}

void PodAttachments::ConsumeChanges() const {
  uint64_t count;
  (void)!read(change_fd_, &count, sizeof count);
}

std::vector<std::string> PodAttachments::LoadStateDir() {
  std::lock_guard lock(mu_);
  cni::StateRead state = cni::ReadState(state_dir_);
  for (auto& r : state.records) by_key_[KeyOf(r)] = std::move(r);
  Changed();
  spdlog::info("{} pod attachment(s) recorded by xgate-cni in {}", by_key_.size(), state_dir_);
  return state.errors;
}

void PodAttachments::Added(const cni::PodRecord& record) {
  std::lock_guard lock(mu_);
  spdlog::info("pod attachment added: {} {} {}", record.network(), record.container_id(),
               record.ifname());
  by_key_[KeyOf(record)] = record;
  Changed();
}

void PodAttachments::Removed(const cni::PodRecord& key) {
  std::lock_guard lock(mu_);
  if (by_key_.erase(KeyOf(key)) > 0) {
    spdlog::info("pod attachment removed: {} {} {}", key.network(), key.container_id(),
                 key.ifname());
    Changed();
  }
}

std::vector<cni::PodRecord> PodAttachments::List() const {
  std::lock_guard lock(mu_);
  std::vector<cni::PodRecord> out;
  for (const auto& [key, r] : by_key_) out.push_back(r);
  return out;
}

uint64_t PodAttachments::Generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

}  // namespace xgate::pods
