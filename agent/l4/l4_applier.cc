#include "agent/l4/l4_applier.h"

#include <netinet/in.h>
#include <time.h>

#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/l4/maglev.h"
#include "maps/pins.h"
#include "spdlog/spdlog.h"

namespace xgate::l4 {
namespace {

// One listener as it will be written: key, flags and (L4) its backends.
struct PlannedBackend {
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  uint8_t family = 0;
  uint32_t weight = 0;
  std::string maglev_key;
};

struct PlannedListener {
  xg_listener_key key{};
  uint32_t flags = 0;
  std::string name;  // for errors and logs
  std::vector<PlannedBackend> backends;
};

std::string ProtoName(uint8_t proto) {
  return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : absl::StrCat(proto);
}

absl::StatusOr<std::vector<PlannedListener>> Plan(const compiler::Snapshot& snapshot) {
  std::vector<PlannedListener> out;
  std::set<std::array<uint8_t, sizeof(xg_listener_key)>> seen;
  auto add = [&](PlannedListener pl) -> absl::Status {
    std::array<uint8_t, sizeof(xg_listener_key)> bytes;
    std::memcpy(bytes.data(), &pl.key, sizeof(pl.key));
    if (!seen.insert(bytes).second)
      return absl::InvalidArgumentError(absl::StrCat(pl.name, ": listed twice"));
    out.push_back(std::move(pl));
    return absl::OkStatus();
  };

  for (const compiler::L4Listener& l : snapshot.l4) {
    PlannedListener pl;
    pl.name = absl::StrCat("L4 listener ", l.gateway, "/", l.listener, " (", l.address, ":", l.port,
                           "/", ProtoName(l.protocol), ")");
    uint8_t family = 0;
    if (absl::Status s = maps::ParseAddress(l.address, pl.key.addr, &family); !s.ok())
      return absl::InvalidArgumentError(absl::StrCat(pl.name, ": address: ", s.message()));
    if (l.protocol != IPPROTO_TCP && l.protocol != IPPROTO_UDP)
      return absl::InvalidArgumentError(absl::StrCat(pl.name, ": protocol must be TCP or UDP"));
    if (l.port == 0) return absl::InvalidArgumentError(absl::StrCat(pl.name, ": port 0"));
    pl.key.port = l.port;
    pl.key.proto = l.protocol;
    pl.flags = XG_LISTENER_L4;
    for (const compiler::L4Backend& b : l.backends) {
      PlannedBackend pb;
      if (absl::Status s = maps::ParseAddress(b.address, pb.addr.data(), &pb.family); !s.ok())
        return absl::InvalidArgumentError(
            absl::StrCat(pl.name, ": backend ", b.service, ": ", s.message()));
      if (pb.family != family)
        return absl::InvalidArgumentError(
            absl::StrCat(pl.name, ": backend ", b.address, " is not in the listener's family"));
      if (b.port == 0)
        return absl::InvalidArgumentError(
            absl::StrCat(pl.name, ": backend ", b.address, " has port 0"));
      pb.port = b.port;
      pb.weight = b.weight;
      pb.maglev_key = absl::StrCat(b.service, "/", b.address, ":", b.port);
      pl.backends.push_back(std::move(pb));
    }
    if (absl::Status s = add(std::move(pl)); !s.ok()) return s;
  }
  for (const compiler::PuntListener& p : snapshot.punt) {
    PlannedListener pl;
    pl.name = absl::StrCat("punt listener ", p.address, ":", p.port);
    uint8_t family = 0;
    if (absl::Status s = maps::ParseAddress(p.address, pl.key.addr, &family); !s.ok())
      return absl::InvalidArgumentError(absl::StrCat(pl.name, ": ", s.message()));
    pl.key.port = p.port;
    pl.key.proto = IPPROTO_TCP;
    pl.flags = XG_LISTENER_PUNT;
    if (absl::Status s = add(std::move(pl)); !s.ok()) return s;
  }
  if (out.size() > XG_MAX_LISTENERS) {
    return absl::ResourceExhaustedError(
        absl::StrCat(out.size(), " listeners, the fast path holds ", XG_MAX_LISTENERS));
  }
  return out;
}

// Free ids below a limit: first those in neither `taken` nor `avoid`, then those only in
// `avoid`.
class IdPool {
 public:
  IdPool(const std::set<uint32_t>& taken, const std::set<uint32_t>& avoid, uint32_t limit) {
    for (uint32_t id = 0; id < limit; ++id) {
      if (taken.count(id)) continue;
      (avoid.count(id) ? second_ : first_).push_back(id);
    }
  }
  std::optional<uint32_t> Take() {
    std::vector<uint32_t>& from = next_ < first_.size() ? first_ : second_;
    size_t& at = next_ < first_.size() ? next_ : next_second_;
    if (at >= from.size()) return std::nullopt;
    return from[at++];
  }

 private:
  std::vector<uint32_t> first_, second_;
  size_t next_ = 0, next_second_ = 0;
};

template <typename T>
absl::StatusOr<T> OpenMap(Datapath& dp, std::string_view name) {
  auto fd = maps::MapFd::Dup(dp.MapFd(std::string(name).c_str()), std::string(name));
  if (!fd.ok()) return fd.status();
  return T(std::move(*fd));
}

}  // namespace

absl::StatusOr<std::unique_ptr<L4Applier>> L4Applier::Create(const L4ApplierOptions& options) {
  auto dp = Datapath::Open({options.pin_root, options.interfaces});
  if (!dp.ok()) return dp.status();
  std::unique_ptr<L4Applier> a(new L4Applier(options));
  a->datapath_ = std::move(*dp);
  auto listeners = OpenMap<maps::ListenerMap>(*a->datapath_, maps::kListeners);
  auto backends = OpenMap<maps::BackendMap>(*a->datapath_, maps::kBackends);
  auto maglev = OpenMap<maps::MaglevOuterMap>(*a->datapath_, maps::kMaglev);
  auto conntrack = OpenMap<maps::ConntrackMap>(*a->datapath_, maps::kConntrack);
  auto lstats = OpenMap<maps::TrafficCounters>(*a->datapath_, maps::kListenerStats);
  auto bstats = OpenMap<maps::TrafficCounters>(*a->datapath_, maps::kBackendStats);
  auto flow_gen = OpenMap<maps::MapFd>(*a->datapath_, maps::kFlowGen);
  for (const absl::Status& s :
       {listeners.status(), backends.status(), maglev.status(), conntrack.status(), lstats.status(),
        bstats.status(), flow_gen.status()}) {
    if (!s.ok()) return s;
  }
  a->listeners_ = std::move(*listeners);
  a->backends_ = std::move(*backends);
  a->maglev_ = std::move(*maglev);
  a->conntrack_ = std::move(*conntrack);
  a->listener_stats_ = std::move(*lstats);
  a->backend_stats_ = std::move(*bstats);
  a->flow_gen_ = std::move(*flow_gen);
  if (absl::Status s = a->Reconcile(); !s.ok()) return s;
  // Slots an earlier agent's program filled may be read by this one's: stale them.
  if (absl::Status s = maps::BumpGeneration(a->flow_gen_.fd(), a->flow_gen_.name()); !s.ok())
    return s;
  return a;
}

absl::Status L4Applier::Reconcile() {
  auto listeners = listeners_.Entries();
  if (!listeners.ok()) return listeners.status();
  for (const auto& [key, value] : *listeners) {
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &key, sizeof(key));
    slots_[bytes] = value.service_id;
  }
  for (uint32_t id = 0; id < XG_MAX_BACKENDS; ++id) {
    auto b = backends_.Lookup(id);
    if (!b.ok()) return b.status();
    if (!*b || !((*b)->flags & XG_BACKEND_VALID)) continue;
    BackendIdentity ident;
    ident.service = (*b)->service_id;
    std::memcpy(ident.addr.data(), (*b)->addr, 16);
    ident.port = (*b)->port;
    backend_ids_[ident] = id;
  }
  // Tables a previous agent left: their contents are unknown here, so each is rebuilt if
  // its listener remains and removed otherwise.
  for (uint32_t service = 0; service < XG_MAX_SERVICES; ++service) {
    auto inner = maglev_.Lookup(service);
    if (!inner.ok()) return inner.status();
    if (*inner) tables_[service] = std::nullopt;
  }
  if (!slots_.empty()) {
    spdlog::info("L4: adopted {} listeners and {} backends from {}", slots_.size(),
                 backend_ids_.size(), datapath_->pin_root());
  }
  return absl::OkStatus();
}

absl::Status L4Applier::Apply(const compiler::Snapshot& snapshot) {
  absl::Status written = WriteMaps(snapshot);
  // Every flow cache slot was filled from the maps as they were: stale now, even if the
  // writes stopped half way.
  absl::Status bumped = maps::BumpGeneration(flow_gen_.fd(), flow_gen_.name());
  return written.ok() ? bumped : written;
}

absl::Status L4Applier::WriteMaps(const compiler::Snapshot& snapshot) {
  auto planned = Plan(snapshot);
  if (!planned.ok()) return planned.status();

  // Ids: keep every id something in the new snapshot still uses, then hand out free ones.
  std::map<ListenerKeyBytes, uint32_t> slots;
  std::set<uint32_t> used_slots;
  std::vector<const PlannedListener*> need_slot;
  for (const PlannedListener& pl : *planned) {
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &pl.key, sizeof(pl.key));
    if (auto it = slots_.find(bytes); it != slots_.end()) {
      slots[bytes] = it->second;
      used_slots.insert(it->second);
    } else {
      need_slot.push_back(&pl);
    }
  }
  // Ids the previous state used stay out of reach while a free one exists: a table or a
  // backend entry rewritten before its old user is gone could send that user's packets to
  // the new owner for a moment.
  std::set<uint32_t> old_slots;
  for (const auto& [bytes, slot] : slots_) old_slots.insert(slot);
  IdPool slot_pool(used_slots, old_slots, XG_MAX_LISTENERS);
  std::set<uint32_t> new_slots;
  for (const PlannedListener* pl : need_slot) {
    std::optional<uint32_t> slot = slot_pool.Take();
    if (!slot) return absl::ResourceExhaustedError("no free listener slot");
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &pl->key, sizeof(pl->key));
    slots[bytes] = *slot;
    new_slots.insert(*slot);
  }

  std::map<BackendIdentity, uint32_t> backend_ids;
  std::set<uint32_t> used_ids;
  std::vector<std::pair<BackendIdentity, const PlannedBackend*>> need_id;
  std::map<BackendIdentity, const PlannedBackend*> wanted;
  for (const PlannedListener& pl : *planned) {
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &pl.key, sizeof(pl.key));
    for (const PlannedBackend& pb : pl.backends) {
      BackendIdentity ident{slots[bytes], pb.addr, pb.port};
      if (wanted.count(ident)) continue;  // the same endpoint twice: one id, weights add
      wanted[ident] = &pb;
      if (auto it = backend_ids_.find(ident); it != backend_ids_.end()) {
        backend_ids[ident] = it->second;
        used_ids.insert(it->second);
      } else {
        need_id.emplace_back(ident, &pb);
      }
    }
  }
  // Removed backends whose listener stays and whose tracked flows are still live drain:
  // they keep their id and entry (never reused meanwhile) but get no table slot.
  std::set<uint32_t> live_services;
  for (const auto& [bytes, slot] : slots) live_services.insert(slot);
  std::map<BackendIdentity, uint32_t> removed;
  for (const auto& [ident, id] : backend_ids_) {
    if (!wanted.count(ident) && live_services.count(ident.service)) removed[ident] = id;
  }
  std::map<BackendIdentity, uint32_t> draining;
  if (!removed.empty()) {
    auto live = LiveFlows(removed);
    if (!live.ok()) return live.status();
    for (const auto& [ident, id] : removed) {
      auto it = live->find(id);
      if (it == live->end()) continue;
      draining[ident] = id;
      used_ids.insert(id);
      spdlog::info("L4: backend {} ({}:{}) removed; draining {} tracked flows", id,
                   maps::FormatAddress(ident.addr.data()), ident.port, it->second);
    }
  }
  std::set<uint32_t> old_ids;
  for (const auto& [ident, id] : backend_ids_) old_ids.insert(id);
  IdPool id_pool(used_ids, old_ids, XG_MAX_BACKENDS);
  std::set<uint32_t> new_ids;
  for (const auto& [ident, pb] : need_id) {
    std::optional<uint32_t> id = id_pool.Take();
    if (!id) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", XG_MAX_BACKENDS, " backends in the snapshot"));
    }
    backend_ids[ident] = *id;
    new_ids.insert(*id);
  }

  // Tables, built before anything is written, for the services whose backends changed.
  std::map<uint32_t, std::vector<MaglevBackend>> tables;  // service id -> its backends
  std::map<uint32_t, maps::MapFd> inner;
  for (const PlannedListener& pl : *planned) {
    if (!(pl.flags & XG_LISTENER_L4)) continue;
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &pl.key, sizeof(pl.key));
    uint32_t service = slots[bytes];
    std::map<uint32_t, MaglevBackend> merged;
    for (const PlannedBackend& pb : pl.backends) {
      uint32_t id = backend_ids[{service, pb.addr, pb.port}];
      MaglevBackend& mb = merged[id];
      mb.key = pb.maglev_key;
      mb.id = id;
      mb.weight += pb.weight;
    }
    std::vector<MaglevBackend> list;
    for (auto& [id, mb] : merged) list.push_back(mb);
    if (auto it = tables_.find(service); it != tables_.end() && it->second == list) {
      tables[service] = std::move(list);
      continue;
    }
    std::vector<uint32_t> table = BuildMaglevTable(list, XG_MAGLEV_SIZE);
    if (table.empty()) continue;
    auto fd = maps::CreateMaglevTable(table);
    if (!fd.ok()) return fd.status();
    inner.emplace(service, std::move(*fd));
    tables[service] = std::move(list);
  }

  // Writes, in the order that keeps every intermediate state consistent for packets:
  // backends, then tables that point at them, then listeners; removals last.
  for (uint32_t id : new_ids) {
    if (absl::Status s = backend_stats_.Clear(id); !s.ok()) return s;
  }
  std::map<uint32_t, xg_listener_key> listener_of;  // service id -> its listener's key
  for (const auto& [bytes, slot] : slots) {
    std::memcpy(&listener_of[slot], bytes.data(), bytes.size());
  }
  for (const auto& [ident, id] : backend_ids) {
    const PlannedBackend* pb = wanted[ident];
    xg_backend value{};
    std::memcpy(value.addr, ident.addr.data(), 16);
    value.port = ident.port;
    value.family = pb->family;
    value.flags = XG_BACKEND_VALID;
    value.service_id = ident.service;
    value.listener = listener_of[ident.service];
    if (absl::Status s = backends_.Update(id, value); !s.ok()) return s;
  }
  std::vector<uint32_t> swapped, table_fds;
  for (auto& [service, fd] : inner) {
    swapped.push_back(service);
    table_fds.push_back(static_cast<uint32_t>(fd.fd()));
  }
  size_t done = 0;
  absl::Status swap = maglev_.UpdateBatch(swapped, table_fds, &done);
  // What the kernel took is recorded even when the batch failed part way: the next apply
  // compares against what the map holds.
  for (size_t i = 0; i < done && i < swapped.size(); ++i) tables_[swapped[i]] = tables[swapped[i]];
  if (!swap.ok()) return swap;
  for (const PlannedListener& pl : *planned) {
    ListenerKeyBytes bytes;
    std::memcpy(bytes.data(), &pl.key, sizeof(pl.key));
    uint32_t slot = slots[bytes];
    if (new_slots.count(slot)) {
      if (absl::Status s = listener_stats_.Clear(slot); !s.ok()) return s;
    }
    xg_listener_value value{slot, pl.flags, slot};
    if (absl::Status s = listeners_.Update(pl.key, value); !s.ok()) return s;
  }
  for (const auto& [bytes, slot] : slots_) {
    if (slots.count(bytes)) continue;
    xg_listener_key key;
    std::memcpy(&key, bytes.data(), sizeof(key));
    if (absl::Status s = listeners_.Delete(key); !s.ok()) return s;
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (tables.count(it->first)) {
      ++it;
      continue;
    }
    // No table: the listener is gone or has no backend left (packets dropped, counted).
    if (absl::Status s = maglev_.Delete(it->first); !s.ok()) return s;
    it = tables_.erase(it);
  }
  for (const auto& [ident, id] : backend_ids_) {
    if (backend_ids.count(ident) || draining.count(ident)) continue;
    xg_backend freed{};
    if (absl::Status s = backends_.Update(id, freed); !s.ok()) return s;
  }
  slots_ = std::move(slots);
  backend_ids_ = std::move(backend_ids);
  spdlog::info("L4: generation {}: {} listeners, {} backends ({} draining), {} tables swapped",
               snapshot.generation, slots_.size(), backend_ids_.size(), draining.size(),
               inner.size());
  backend_ids_.merge(draining);
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, int>> L4Applier::LiveFlows(
    const std::map<BackendIdentity, uint32_t>& candidates) const {
  std::map<uint32_t, const BackendIdentity*> by_id;
  for (const auto& [ident, id] : candidates) by_id[id] = &ident;
  auto entries = conntrack_.Entries();
  if (!entries.ok()) return entries.status();
  // last_seen_ns is bpf_ktime_get_(coarse_)ns(): CLOCK_MONOTONIC, give or take a tick.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  const uint64_t idle = static_cast<uint64_t>(drain_idle_.count());
  std::map<uint32_t, int> live;
  for (const auto& [flow, ct] : *entries) {
    auto it = by_id.find(ct.backend_id);
    if (it == by_id.end() || ct.backend_port != it->second->port ||
        std::memcmp(ct.backend_addr, it->second->addr.data(), 16) != 0) {
      continue;
    }
    if (now < ct.last_seen_ns || now - ct.last_seen_ns < idle) live[ct.backend_id]++;
  }
  return live;
}

void L4Applier::Stop(bool detach) {
  if (stopped_) return;
  stopped_ = true;
  if (!detach) {
    spdlog::info("L4: leaving programs and maps pinned under {}", datapath_->pin_root());
    return;
  }
  if (absl::Status s = datapath_->DetachAndUnpin(); !s.ok()) {
    spdlog::warn("L4: detach: {}", s.ToString());
  } else {
    spdlog::info("L4: detached and removed {}", datapath_->pin_root());
  }
}

}  // namespace xgate::l4
