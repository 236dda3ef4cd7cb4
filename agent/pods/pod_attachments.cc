#include "agent/pods/pod_attachments.h"

#include "spdlog/spdlog.h"

namespace xgate::pods {

std::vector<std::string> PodAttachments::LoadStateDir() {
  std::lock_guard lock(mu_);
  cni::StateRead state = cni::ReadState(state_dir_);
  for (auto& r : state.records) by_key_[KeyOf(r)] = std::move(r);
  ++generation_;
  changed_.notify_all();
  spdlog::info("{} pod attachment(s) recorded by xgate-cni in {}", by_key_.size(), state_dir_);
  return state.errors;
}

void PodAttachments::Added(const cni::PodRecord& record) {
  std::lock_guard lock(mu_);
  spdlog::info("pod attachment added: {} {} {}", record.network(), record.container_id(),
               record.ifname());
  by_key_[KeyOf(record)] = record;
  ++generation_;
  changed_.notify_all();
}

void PodAttachments::Removed(const cni::PodRecord& key) {
  std::lock_guard lock(mu_);
  if (by_key_.erase(KeyOf(key)) > 0) {
    spdlog::info("pod attachment removed: {} {} {}", key.network(), key.container_id(),
                 key.ifname());
    ++generation_;
    changed_.notify_all();
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

uint64_t PodAttachments::WaitChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return generation_ != seen || woken_; });
  return generation_;
}

void PodAttachments::Wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  changed_.notify_all();
}

}  // namespace xgate::pods
