#include "agent/inspect/l4_maps.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/l4/xmit_drops.h"
#include "maps/names.h"
#include "maps/pins.h"

namespace xgate::inspect {
namespace {

template <typename T>
absl::Status OpenInto(const std::string& root, std::string_view name, T& into) {
  auto m = T::OpenPinned(maps::PinPath(root, name));
  if (!m.ok()) return m.status();
  into = std::move(*m);
  return absl::OkStatus();
}

uint64_t MonotonicNs() {  // bpf_ktime_get_ns()'s clock
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

std::string ListenerName(const compiler::L4Listener& l) {
  return absl::StrCat(l.gateway, "/", l.listener);
}

bool SameAddress(const std::string& literal, const uint8_t addr[16]) {
  uint8_t bytes[16];
  uint8_t family = 0;
  return maps::ParseAddress(literal, bytes, &family).ok() && std::memcmp(bytes, addr, 16) == 0;
}

// Every index of a counter map whose indexes are named (paths, drop reasons, steer results).
absl::Status ReadNamed(const maps::TrafficCounters& counters, uint32_t count,
                       std::string_view (*name)(uint32_t),
                       google::protobuf::RepeatedPtrField<api::TrafficCounter>* out) {
  for (uint32_t i = 0; i < count; ++i) {
    auto t = counters.Read(i);
    if (!t.ok()) return t.status();
    api::TrafficCounter* c = out->Add();
    c->set_name(std::string(name(i)));
    c->set_packets(t->packets);
    c->set_bytes(t->bytes);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<L4Maps>> L4Maps::Open(const std::string& pin_root) {
  auto m = std::make_unique<L4Maps>();
  m->pin_root = pin_root;
  for (absl::Status s : {OpenInto(pin_root, maps::kListeners, m->listeners),
                         OpenInto(pin_root, maps::kBackends, m->backends),
                         OpenInto(pin_root, maps::kMaglev, m->maglev),
                         OpenInto(pin_root, maps::kConntrack, m->conntrack),
                         OpenInto(pin_root, maps::kListenerStats, m->listener_stats),
                         OpenInto(pin_root, maps::kBackendStats, m->backend_stats),
                         OpenInto(pin_root, maps::kPathStats, m->path_stats),
                         OpenInto(pin_root, maps::kDropStats, m->drop_stats)}) {
    if (!s.ok()) return s;
  }
  std::string steer = maps::PinPath(pin_root, maps::kSteerStats);
  if (access(steer.c_str(), F_OK) == 0) {
    auto stats = maps::TrafficCounters::OpenPinned(steer);
    if (!stats.ok()) return stats.status();
    m->steer_stats = std::move(*stats);
  }
  return m;
}

absl::StatusOr<std::optional<uint32_t>> L4Maps::MaglevSlot(uint32_t service, uint32_t slot) const {
  auto inner_id = maglev.Lookup(service);  // user space reads an inner map's id
  if (!inner_id.ok()) return inner_id.status();
  if (!*inner_id) return std::nullopt;
  int fd = bpf_map_get_fd_by_id(**inner_id);
  if (fd < 0) return maps::ErrnoStatus(errno, "open by id", "xg_maglev inner table");
  maps::TypedMap<uint32_t, uint32_t> table(maps::MapFd(fd, "xg_maglev inner table"));
  auto id = table.Lookup(slot);
  if (!id.ok()) return id.status();
  return *id;
}

const compiler::L4Listener* FindL4Listener(const compiler::Snapshot& snapshot,
                                           const uint8_t addr[16], uint16_t port, uint8_t proto) {
  for (const compiler::L4Listener& l : snapshot.l4) {
    if (l.port == port && l.protocol == proto && SameAddress(l.address, addr)) return &l;
  }
  return nullptr;
}

std::string PuntListenerNames(const compiler::Snapshot& snapshot, const uint8_t addr[16],
                              uint16_t port) {
  std::string names;
  for (const api::Port& p : snapshot.l7.ports()) {
    if (p.port() != port) continue;
    bool here = p.addresses().empty();
    for (const std::string& a : p.addresses()) here = here || SameAddress(a, addr);
    if (!here) continue;
    for (const api::Listener& l : p.listeners()) {
      absl::StrAppend(&names, names.empty() ? "" : ",", l.gateway_namespace(), "/",
                      l.gateway_name(), "/", l.name());
    }
  }
  return names;
}

std::string ProtocolName(uint8_t proto) {
  return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : absl::StrCat(proto);
}

api::ConntrackEntry DescribeFlow(const L4Maps& maps, const compiler::Snapshot* snapshot,
                                 const xg_flow& flow, const xg_ct_entry& entry) {
  api::ConntrackEntry out;
  out.set_src_address(maps::FormatAddress(flow.src));
  out.set_src_port(flow.sport);
  out.set_dst_address(maps::FormatAddress(flow.dst));
  out.set_dst_port(flow.dport);
  out.set_protocol(ProtocolName(flow.proto));
  out.set_backend_address(maps::FormatAddress(entry.backend_addr));
  out.set_backend_port(entry.backend_port);
  out.set_backend_id(entry.backend_id);
  if (snapshot != nullptr) {
    if (const auto* l = FindL4Listener(*snapshot, flow.dst, flow.dport, flow.proto)) {
      out.set_listener(ListenerName(*l));
    }
  }
  uint64_t now = MonotonicNs();
  out.set_age_ms(now > entry.created_ns ? (now - entry.created_ns) / 1000000 : 0);
  out.set_idle_ms(now > entry.last_seen_ns ? (now - entry.last_seen_ns) / 1000000 : 0);
  // The same test as the fast path's xg_ct_lookup: the recorded backend must still exist
  // and still serve the listener the flow is addressed to.
  auto b = maps.backends.Lookup(entry.backend_id);
  bool live = b.ok() && b->has_value() && ((*b)->flags & XG_BACKEND_VALID) &&
              (*b)->port == entry.backend_port &&
              std::memcmp((*b)->addr, entry.backend_addr, 16) == 0 &&
              (*b)->listener.port == flow.dport && (*b)->listener.proto == flow.proto &&
              std::memcmp((*b)->listener.addr, flow.dst, 16) == 0;
  out.set_stale(!live);
  return out;
}

absl::StatusOr<api::GetConntrackResponse> ReadConntrack(const L4Maps& maps,
                                                        const compiler::Snapshot* snapshot,
                                                        uint32_t page_size,
                                                        const std::string& page_token) {
  if (page_size == 0) page_size = 100;
  if (page_size > 10000) {
    return absl::InvalidArgumentError(absl::StrCat("page_size ", page_size, ": at most 10000"));
  }
  xg_flow prev{};
  bool has_prev = false;
  if (!page_token.empty()) {
    bool hex = page_token.size() == 2 * sizeof(xg_flow) &&
               std::all_of(page_token.begin(), page_token.end(), absl::ascii_isxdigit);
    std::string bytes = hex ? absl::HexStringToBytes(page_token) : "";
    if (bytes.size() != sizeof(xg_flow)) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_token \"", page_token, "\" is not one this agent gave"));
    }
    std::memcpy(&prev, bytes.data(), sizeof prev);
    has_prev = true;
  }
  api::GetConntrackResponse out;
  int fd = maps.conntrack.fd().fd();
  xg_flow next{};
  while (out.entries_size() < static_cast<int>(page_size)) {
    if (bpf_map_get_next_key(fd, has_prev ? &prev : nullptr, &next) != 0) {
      if (errno != ENOENT) return maps::ErrnoStatus(errno, "iterate", maps.conntrack.fd().name());
      return out;  // the last page: no token
    }
    prev = next;
    has_prev = true;
    xg_ct_entry entry{};
    if (bpf_map_lookup_elem(fd, &next, &entry) != 0) continue;  // evicted meanwhile
    *out.add_entries() = DescribeFlow(maps, snapshot, next, entry);
  }
  // A full page: go on from its last key, unless that was the table's last.
  if (bpf_map_get_next_key(fd, &prev, &next) == 0) {
    out.set_next_page_token(absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(&prev), sizeof prev)));
  }
  return out;
}

absl::StatusOr<api::GetCountersResponse> ReadCounters(const L4Maps& maps,
                                                      const compiler::Snapshot* snapshot) {
  api::GetCountersResponse out;
  auto listeners = maps.listeners.Entries();
  if (!listeners.ok()) return listeners.status();
  std::map<uint32_t, std::string> service_listener;  // service id -> "addr:port/proto"
  std::map<uint32_t, const compiler::L4Listener*> service_l4;
  for (const auto& [key, value] : *listeners) {
    auto t = maps.listener_stats.Read(value.counter_index);
    if (!t.ok()) return t.status();
    api::ListenerCounter* c = out.add_listeners();
    c->set_address(maps::FormatAddress(key.addr));
    c->set_port(key.port);
    c->set_protocol(ProtocolName(key.proto));
    c->set_kind((value.flags & XG_LISTENER_L4) ? "l4" : "punt");
    const compiler::L4Listener* l =
        snapshot ? FindL4Listener(*snapshot, key.addr, key.port, key.proto) : nullptr;
    if (l != nullptr) {
      c->set_listener(ListenerName(*l));
      c->set_route(l->route);
    } else if (snapshot != nullptr && !(value.flags & XG_LISTENER_L4)) {
      c->set_listener(PuntListenerNames(*snapshot, key.addr, key.port));
    }
    c->set_packets(t->packets);
    c->set_bytes(t->bytes);
    if (value.flags & XG_LISTENER_L4) {
      service_listener[value.service_id] =
          absl::StrCat(c->address(), ":", c->port(), "/", c->protocol());
      service_l4[value.service_id] = l;
    }
  }
  for (uint32_t id = 0; id < XG_MAX_BACKENDS; ++id) {
    auto b = maps.backends.Lookup(id);
    if (!b.ok()) return b.status();
    if (!*b || !((*b)->flags & XG_BACKEND_VALID)) continue;
    auto t = maps.backend_stats.Read(id);
    if (!t.ok()) return t.status();
    api::BackendCounter* c = out.add_backends();
    c->set_id(id);
    c->set_address(maps::FormatAddress((*b)->addr));
    c->set_port((*b)->port);
    c->set_listener(service_listener[(*b)->service_id]);
    if (const compiler::L4Listener* l = service_l4[(*b)->service_id]) {
      for (const compiler::L4Backend& lb : l->backends) {
        if (lb.port == c->port() && SameAddress(lb.address, (*b)->addr)) c->set_service(lb.service);
      }
    }
    c->set_packets(t->packets);
    c->set_bytes(t->bytes);
  }
  for (absl::Status s :
       {ReadNamed(maps.path_stats, XG_PATH_MAX, maps::PathName, out.mutable_paths()),
        ReadNamed(maps.drop_stats, XG_DROP_MAX, maps::DropName, out.mutable_drops())}) {
    if (!s.ok()) return s;
  }
  if (maps.steer_stats) {
    absl::Status s =
        ReadNamed(*maps.steer_stats, XG_STEER_MAX, maps::SteerResultName, out.mutable_steering());
    if (!s.ok()) return s;
  }
  auto xmit_drops = l4::ReadXmitDrops(maps.pin_root);
  if (!xmit_drops.ok()) return xmit_drops.status();
  for (const auto& [ifindex, frames] : *xmit_drops) {
    api::TrafficCounter* c = out.add_xmit_drops();
    char name[IF_NAMESIZE] = {};
    c->set_name(if_indextoname(ifindex, name) ? std::string(name)
                                              : absl::StrCat("ifindex ", ifindex));
    c->set_packets(frames);
  }
  return out;
}

}  // namespace xgate::inspect
