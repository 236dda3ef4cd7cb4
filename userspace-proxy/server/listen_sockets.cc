#include "userspace-proxy/server/listen_sockets.h"

#include <bpf/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "maps/steer.h"
#include "spdlog/spdlog.h"
#include "userspace-proxy/server/net.h"

namespace xgate::proxy {
namespace {

constexpr char kIpv4[] = "ipv4";
constexpr char kIpv6[] = "ipv6";

bool IsIpv6(const std::string& address) { return address.find(':') != std::string::npos; }

std::string GroupName(bool steered, const std::string& address, uint16_t port) {
  if (steered) return absl::StrCat("steered ", address, " listener");
  if (address.empty()) return absl::StrCat("*:", port);
  return IsIpv6(address) ? absl::StrCat("[", address, "]:", port)
                         : absl::StrCat(address, ":", port);
}

}  // namespace

ListenGroup::~ListenGroup() {
  for (int fd : fds) close(fd);
}

ListenSockets::ListenSockets(int workers, ListenBackoff backoff)
    : workers_(std::max(1, workers)), backoff_(backoff) {}

void ListenSockets::Inherit(std::vector<HandedGroup> groups) {
  for (HandedGroup& handed : groups) {
    inherited_[{handed.steered, handed.address, handed.port}] = std::move(handed.group);
  }
}

std::vector<HandedGroup> ListenSockets::Release() {
  std::vector<HandedGroup> out;
  for (auto& [key, group] : groups_) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), group});
  }
  groups_.clear();
  results_.clear();
  Publish();
  return out;
}

absl::StatusOr<std::shared_ptr<ListenGroup>> ListenSockets::Open(const GroupKey& key) {
  const auto& [steered, address, port] = key;
  auto group = std::make_shared<ListenGroup>();
  // The private listener: loopback, on a port the kernel picks for the first worker's socket.
  std::string ip = steered ? (address == kIpv6 ? "::1" : "127.0.0.1") : address;
  uint16_t bind_port = port;
  if (auto it = inherited_.find(key); it != inherited_.end()) {
    // The previous proxy's sockets: as many as it had workers; more join their
    // SO_REUSEPORT group, and one too many is closed (its queued connections with it).
    std::swap(group->fds, it->second->fds);
    inherited_.erase(it);
    while (group->fds.size() > static_cast<size_t>(workers_)) {
      close(group->fds.back());
      group->fds.pop_back();
    }
    if (!group->fds.empty()) bind_port = LocalAddress(group->fds.front()).Port();
  }
  for (int i = static_cast<int>(group->fds.size()); i < workers_; ++i) {
    auto fd = OpenListener(ip, bind_port);
    if (!fd.ok()) return fd.status();
    group->fds.push_back(*fd);
    if (i == 0 && steered) bind_port = LocalAddress(*fd).Port();
  }
  group->name = steered ? absl::StrCat(GroupName(true, address, 0), " ",
                                       LocalAddress(group->fds.front()).ToString())
                        : GroupName(false, address, port);
  return group;
}

namespace {

struct PreopenedMap {
  std::string path;
  int fd = -1;
};
PreopenedMap& Preopened() {
  static PreopenedMap map;
  return map;
}

}  // namespace

void SetPreopenedSteerMap(const std::string& path, int fd) { Preopened() = {path, fd}; }

absl::Status ListenSockets::Register(const GroupKey& key, const ListenGroup& group) const {
  if (map_path_.empty()) {
    return absl::FailedPreconditionError("steered, but the config names no steer socket map");
  }
  int map_fd = bpf_obj_get(map_path_.c_str());
  if (map_fd < 0 && (errno == EACCES || errno == EPERM) && Preopened().path == map_path_ &&
      Preopened().fd >= 0) {
    map_fd = dup(Preopened().fd);
  }
  if (map_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("steer socket map ", map_path_, ": ", std::strerror(errno)));
  }
  uint32_t slot = std::get<1>(key) == kIpv6 ? XG_STEER_SOCK_IPV6 : XG_STEER_SOCK_IPV4;
  // Any socket of the group: the kernel picks among them by SO_REUSEPORT at delivery.
  uint64_t value = static_cast<uint64_t>(group.fds.front());
  int rc = bpf_map_update_elem(map_fd, &slot, &value, BPF_ANY);
  int err = errno;
  close(map_fd);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("putting ", group.name, " in ", map_path_, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

void ListenSockets::Attempt(const GroupKey& key, Clock::time_point now) {
  Result& result = results_[key];
  absl::Status status;
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    auto opened = Open(key);
    if (opened.ok()) {
      it = groups_.emplace(key, *opened).first;
    } else {
      status = opened.status();
    }
  }
  if (status.ok() && std::get<0>(key)) {
    status = Register(key, *it->second);
    if (!status.ok()) groups_.erase(it);
  }
  if (status.ok()) {
    if (!result.error.empty()) spdlog::info("listening on {} now", groups_.at(key)->name);
    result.error.clear();
    result.backoff = std::chrono::milliseconds(0);
    return;
  }
  std::string error(status.message());
  result.backoff =
      result.backoff.count() == 0 ? backoff_.first : std::min(backoff_.max, result.backoff * 2);
  result.next_try = now + result.backoff;
  ++result.failures;
  if (error != result.error) {
    spdlog::warn("cannot listen: {}; retrying (backoff up to {} ms)", error, backoff_.max.count());
  }
  result.error = std::move(error);
}

void ListenSockets::Sync(const api::L7Config& config) {
  generation_ = config.generation();
  map_path_ = config.steer_socket_map();
  targets_.clear();
  for (const api::Port& port : config.ports()) {
    auto number = static_cast<uint16_t>(port.port());
    std::set<std::string> steered(port.steered_addresses().begin(), port.steered_addresses().end());
    if (port.addresses().empty()) {
      targets_[{"", number}] = {false, {false, "", number}};
    }
    for (const std::string& address : port.addresses()) {
      Target t;
      t.steered = steered.contains(address);
      t.group = t.steered ? GroupKey{true, IsIpv6(address) ? kIpv6 : kIpv4, 0}
                          : GroupKey{false, address, number};
      targets_[{address, number}] = t;
    }
  }
  std::set<GroupKey> wanted;
  for (const auto& [pair, target] : targets_) wanted.insert(target.group);
  std::erase_if(groups_, [&](const auto& g) { return !wanted.contains(g.first); });
  std::erase_if(results_, [&](const auto& r) { return !wanted.contains(r.first); });
  // A new config tries everything at once: what failed may be free now. Steered listeners
  // are put in the map again: the agent may have replaced the map since.
  auto now = Clock::now();
  for (const GroupKey& key : wanted) Attempt(key, now);
  if (!inherited_.empty()) {
    spdlog::info("closing {} inherited listening groups the config no longer names",
                 inherited_.size());
    inherited_.clear();
  }
  Publish();
}

bool ListenSockets::Retry(Clock::time_point now) {
  bool tried = false;
  for (auto& [key, result] : results_) {
    if (result.error.empty() || result.next_try > now) continue;
    Attempt(key, now);
    tried = true;
  }
  if (tried) Publish();
  return tried;
}

ListenSockets::Clock::time_point ListenSockets::NextRetry() const {
  auto next = Clock::time_point::max();
  for (const auto& [key, result] : results_) {
    if (!result.error.empty()) next = std::min(next, result.next_try);
  }
  return next;
}

void ListenSockets::Publish() {
  auto set = std::make_shared<ListenSet>();
  for (const auto& [key, group] : groups_) set->groups.push_back(group);
  set_ = std::move(set);
}

api::ListenReport ListenSockets::Report() const {
  api::ListenReport report;
  report.set_generation(generation_);
  for (const auto& [pair, target] : targets_) {
    api::ListenResult* r = report.add_results();
    r->set_address(pair.first);
    r->set_port(pair.second);
    r->set_steered(target.steered);
    auto it = results_.find(target.group);
    if (it == results_.end()) continue;
    r->set_bound(it->second.error.empty());
    r->set_error(it->second.error);
    r->set_failures(it->second.failures);
  }
  return report;
}

}  // namespace xgate::proxy
