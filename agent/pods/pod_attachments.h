// The pod attachments the agent knows, from xgate-cni: read from the plugin's state folder at
// start, then kept current by the plugin's ReportPodAttachment calls. PodDatapath
// (pod_datapath.h) programs the pods' interfaces from it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "cni-hooks/xgate-cni/record.h"

namespace xgate::pods {

class PodAttachments {
 public:
  explicit PodAttachments(std::string state_dir);
  ~PodAttachments();
  PodAttachments(const PodAttachments&) = delete;
  PodAttachments& operator=(const PodAttachments&) = delete;

  // Adds every record in the state folder: the pods added while the agent was away. Run
  // after the admin socket listens, so no event falls between the read and the first call.
  // Returns the unreadable records ("FILE: why"), which are skipped.
  std::vector<std::string> LoadStateDir();
  void Added(const cni::PodRecord& record);
  void Removed(const cni::PodRecord& key);
  std::vector<cni::PodRecord> List() const;
  // Moves on at every change (load, add, remove).
  uint64_t Generation() const;
  // An eventfd, readable after a change until ConsumeChanges: the pod event loop polls it.
  int change_fd() const { return change_fd_; }
  void ConsumeChanges() const;
  const std::string& state_dir() const { return state_dir_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  static Key KeyOf(const cni::PodRecord& r) { return {r.network(), r.container_id(), r.ifname()}; }
  void Changed();  // with mu_ held
  const std::string state_dir_;
  // Held while the folder is read, so a DEL reported during the read is not undone by it.
  mutable std::mutex mu_;
  std::map<Key, cni::PodRecord> by_key_;
  uint64_t generation_ = 0;
  const int change_fd_;
};

}  // namespace xgate::pods
