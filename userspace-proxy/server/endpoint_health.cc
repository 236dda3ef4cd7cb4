#include "userspace-proxy/server/endpoint_health.h"

#include <algorithm>

namespace xgate::proxy {

bool EndpointHealth::Ejected(const std::string& endpoint) const {
  auto it = records_.find(endpoint);
  return it != records_.end() && it->second.ejected_until > now_();
}

std::chrono::milliseconds EndpointHealth::Failed(const std::string& endpoint) {
  Record& record = records_[endpoint];
  Clock::time_point now = now_();
  if (record.ejected_until > now) return std::chrono::milliseconds(0);  // already out
  // A readmitted endpoint (ejected before, no success since) goes out again at once.
  if (record.ejections == 0 && ++record.consecutive_failures < options_.failures_to_eject) {
    return std::chrono::milliseconds(0);
  }
  record.consecutive_failures = 0;
  std::chrono::milliseconds backoff = options_.base;
  for (int i = 0; i < record.ejections && backoff < options_.max; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.max);
  ++record.ejections;
  record.ejected_until = now + backoff;
  return backoff;
}

void EndpointHealth::Retain(const std::unordered_set<std::string>& keep) {
  std::erase_if(records_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

}  // namespace xgate::proxy
