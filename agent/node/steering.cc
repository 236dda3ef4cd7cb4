#include "agent/node/steering.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/node/netlink.h"
#include "spdlog/spdlog.h"

namespace xgate::node {
namespace {

std::string Describe(const xg_steer_key& key) {
  return absl::StrCat(maps::FormatAddress(key.addr), " port ", key.port);
}

}  // namespace

std::vector<LocalDelivery> SteerRoutes() {
  std::vector<LocalDelivery> out;
  for (int family : {AF_INET, AF_INET6}) {
    out.push_back({family, XG_STEER_MARK, XG_STEER_TABLE, XG_STEER_RULE_PREF});
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SteeringApplier>> SteeringApplier::Create(
    const SteeringOptions& options) {
  std::unique_ptr<SteeringApplier> a(new SteeringApplier());
  auto program = SteerProgram::Open(options.pin_root, options.interfaces);
  if (!program.ok()) return program.status();
  a->program_ = std::move(*program);
  auto fd = maps::MapFd::Dup(a->program_->TargetsFd(), std::string(kSteerTargets));
  if (!fd.ok()) return fd.status();
  a->targets_ = SteerTargetMap(std::move(*fd));
  // What an earlier agent left: kept until the first snapshot says otherwise.
  auto entries = a->targets_.Entries();
  if (!entries.ok()) return entries.status();
  for (const auto& [key, value] : *entries) {
    KeyBytes bytes;
    std::memcpy(bytes.data(), &key, sizeof(key));
    a->installed_.insert(bytes);
  }
  for (const LocalDelivery& route : SteerRoutes()) {
    absl::Status s = AddLocalDelivery(route);
    if (!s.ok() && route.family == AF_INET6) {  // a node without IPv6 still steers IPv4
      spdlog::warn("steering: no IPv6 policy route: {}", s.ToString());
    } else if (!s.ok()) {
      return s;
    }
  }
  spdlog::info("steering: program on {} interface(s), fwmark 0x{:x} -> table {} (local)",
               options.interfaces.size(), XG_STEER_MARK, XG_STEER_TABLE);
  return a;
}

absl::Status SteeringApplier::Apply(const compiler::Snapshot& snapshot) {
  std::map<KeyBytes, xg_steer_key> wanted;
  for (const compiler::PuntListener& punt : snapshot.punt) {
    if (!punt.steered) continue;  // the kernel delivers it to the proxy's socket as it is
    xg_steer_key key{};
    uint8_t family = 0;
    if (absl::Status s = maps::ParseAddress(punt.address, key.addr, &family); !s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("punt listener ", punt.address, ":", punt.port, ": ", s.message()));
    key.port = punt.port;
    KeyBytes bytes;
    std::memcpy(bytes.data(), &key, sizeof(key));
    wanted.emplace(bytes, key);
  }
  if (wanted.size() > XG_MAX_STEER_TARGETS) {
    return absl::ResourceExhaustedError(absl::StrCat(
        wanted.size(), " steered listeners, xg_steer_targets holds ", XG_MAX_STEER_TARGETS));
  }
  // Add first, then remove: a listener in both snapshots never misses a packet.
  for (const auto& [bytes, key] : wanted) {
    if (installed_.contains(bytes)) continue;
    if (absl::Status s = targets_.Update(key, xg_steer_value{}); !s.ok()) return s;
    installed_.insert(bytes);
    spdlog::info("steering: {} to the proxy", Describe(key));
  }
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (wanted.contains(*it)) {
      ++it;
      continue;
    }
    xg_steer_key key;
    std::memcpy(&key, it->data(), sizeof(key));
    if (absl::Status s = targets_.Delete(key); !s.ok()) return s;
    spdlog::info("steering: {} no longer steered", Describe(key));
    it = installed_.erase(it);
  }
  return absl::OkStatus();
}

void SteeringApplier::Stop(bool detach) {
  if (stopped_) return;
  stopped_ = true;
  if (!detach) {
    spdlog::info("steering: left attached (pinned under the pin root), policy route kept");
    return;
  }
  if (absl::Status s = program_->DetachAndUnpin(); !s.ok())
    spdlog::warn("steering: {}", s.ToString());
  for (const LocalDelivery& route : SteerRoutes()) {
    if (absl::Status s = DeleteLocalDelivery(route); !s.ok())
      spdlog::warn("steering: {}", s.ToString());
  }
  spdlog::info("steering: detached, policy route removed");
}

}  // namespace xgate::node
