#include "agent/inspect/explain_packet.h"

#include <netinet/in.h>

#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/l4/maglev.h"
#include "maps/flow_hash.h"

namespace xgate::inspect {
namespace {

bool SameAddress(const std::string& literal, const uint8_t addr[16]) {
  uint8_t bytes[16];
  uint8_t family = 0;
  return maps::ParseAddress(literal, bytes, &family).ok() && std::memcmp(bytes, addr, 16) == 0;
}

std::string Where(const std::string& address, uint32_t port, uint8_t proto) {
  return absl::StrCat(address, ":", port, "/", ProtocolName(proto));
}

void Step(api::PacketExplanation& out, std::string stage, std::string subject, bool matched,
          std::string reason) {
  api::ExplainStep* s = out.add_steps();
  s->set_stage(std::move(stage));
  s->set_subject(std::move(subject));
  s->set_matched(matched);
  s->set_reason(std::move(reason));
}

// The listener's backends as the L4 applier writes them: one per endpoint (address, port),
// the weights of an endpoint listed twice added, keyed "service/address:port".
struct SnapshotBackend {
  l4::MaglevBackend maglev;
  api::L4BackendView view;
};
std::vector<SnapshotBackend> SnapshotBackends(const compiler::L4Listener& l) {
  std::map<std::pair<std::string, uint16_t>, size_t> index;
  std::vector<SnapshotBackend> out;
  for (const compiler::L4Backend& b : l.backends) {
    auto [it, fresh] = index.emplace(std::pair{b.address, b.port}, out.size());
    if (fresh) out.emplace_back();
    SnapshotBackend& sb = out[it->second];
    sb.maglev.key = absl::StrCat(b.service, "/", b.address, ":", b.port);
    sb.maglev.id = static_cast<uint32_t>(it->second);
    sb.maglev.weight += b.weight;
    sb.view.set_address(b.address);
    sb.view.set_port(b.port);
    sb.view.set_weight(sb.maglev.weight);
    sb.view.set_service(b.service);
  }
  return out;
}

std::string Describe(const api::L4BackendView& b) {
  return absl::StrCat(b.address(), ":", b.port(), b.service().empty() ? "" : " (service ",
                      b.service(), b.service().empty() ? "" : ")");
}

// Why listener `l` is not the one for the packet.
std::string Mismatch(const compiler::L4Listener& l, const xg_flow& f) {
  std::vector<std::string> why;
  if (!SameAddress(l.address, f.dst)) why.push_back(absl::StrCat("address ", l.address));
  if (l.port != f.dport) why.push_back(absl::StrCat("port ", l.port));
  if (l.protocol != f.proto) why.push_back(absl::StrCat("protocol ", ProtocolName(l.protocol)));
  return absl::StrCat("listens on another ", absl::StrJoin(why, ", "));
}

}  // namespace

absl::StatusOr<xg_flow> ProbeFlow(const api::PacketProbe& probe) {
  xg_flow f{};
  uint8_t src_family = 0, dst_family = 0;
  if (absl::Status s = maps::ParseAddress(probe.src_address(), f.src, &src_family); !s.ok())
    return absl::InvalidArgumentError(absl::StrCat("source address: ", s.message()));
  if (absl::Status s = maps::ParseAddress(probe.dst_address(), f.dst, &dst_family); !s.ok())
    return absl::InvalidArgumentError(absl::StrCat("destination address: ", s.message()));
  if (src_family != dst_family)
    return absl::InvalidArgumentError("source and destination are not the same IP family");
  for (uint32_t port : {probe.src_port(), probe.dst_port()}) {
    if (port == 0 || port > 65535)
      return absl::InvalidArgumentError(absl::StrCat("port ", port, ": ports are 1-65535"));
  }
  f.sport = static_cast<uint16_t>(probe.src_port());
  f.dport = static_cast<uint16_t>(probe.dst_port());
  std::string proto = absl::AsciiStrToLower(probe.protocol());
  if (proto == "tcp") {
    f.proto = IPPROTO_TCP;
  } else if (proto == "udp") {
    f.proto = IPPROTO_UDP;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol \"", probe.protocol(), "\": tcp or udp"));
  }
  return f;
}

absl::StatusOr<api::PacketExplanation> ExplainPacket(const compiler::Snapshot& snapshot,
                                                     const api::PacketProbe& probe,
                                                     const L4Maps* kernel) {
  auto flow = ProbeFlow(probe);
  if (!flow.ok()) return flow.status();
  const xg_flow& f = *flow;
  api::PacketExplanation out;
  out.set_source(kernel ? "kernel" : "snapshot");
  uint32_t hash = xg_flow_hash(&f);
  uint32_t slot = hash % XG_MAGLEV_SIZE;
  out.set_flow_hash(hash);
  out.set_maglev_slot(slot);
  const std::string where = Where(maps::FormatAddress(f.dst), f.dport, f.proto);

  const compiler::L4Listener* l = FindL4Listener(snapshot, f.dst, f.dport, f.proto);
  for (const compiler::L4Listener& other : snapshot.l4) {
    if (&other == l || (!SameAddress(other.address, f.dst) && other.port != f.dport)) continue;
    Step(out, "listener",
         absl::StrCat("L4 ", other.gateway, "/", other.listener, " ",
                      Where(other.address, other.port, other.protocol)),
         false, Mismatch(other, f));
  }
  if (l == nullptr) {
    for (const compiler::PuntListener& p : snapshot.punt) {
      if (f.proto == IPPROTO_TCP && p.port == f.dport && SameAddress(p.address, f.dst)) {
        out.set_outcome("punt");
        out.set_listener(PuntListenerNames(snapshot, f.dst, f.dport));
        Step(out, "listener", absl::StrCat("L7 ", where, " ", out.listener()), true,
             "an HTTP/HTTPS/TLS listener: passed up the stack to xgate-proxy (explain the "
             "request for its route)");
        return out;
      }
    }
    out.set_outcome("pass");
    Step(out, "listener", where, false,
         "no Gateway listener on this address, port and protocol: passed to the stack untouched");
    return out;
  }
  out.set_gateway(l->gateway);
  out.set_listener(absl::StrCat(l->gateway, "/", l->listener));
  out.set_route(l->route);
  Step(out, "listener", absl::StrCat("L4 ", l->gateway, "/", l->listener, " ", where), true,
       l->route);

  std::vector<SnapshotBackend> backends = SnapshotBackends(*l);
  bool have_slot = false;
  if (kernel != nullptr) {
    xg_listener_key key{};
    std::memcpy(key.addr, f.dst, 16);
    key.port = f.dport;
    key.proto = f.proto;
    auto value = kernel->listeners.Lookup(key);
    if (!value.ok()) return value.status();
    if (!*value) {
      out.set_outcome("pass");
      Step(out, "listener", where, false,
           "not in the kernel's listener map (the snapshot is not applied there)");
      return out;
    }
    auto ct = kernel->conntrack.Lookup(f);
    if (!ct.ok()) return ct.status();
    if (*ct) {
      *out.mutable_conntrack() = DescribeFlow(*kernel, &snapshot, f, **ct);
      out.set_pinned(!out.conntrack().stale());
      Step(out, "conntrack", "entry for this 5-tuple", out.pinned(),
           out.pinned() ? absl::StrCat("pins the flow to ", out.conntrack().backend_address(), ":",
                                       out.conntrack().backend_port())
                        : "its backend is gone: the next packet takes the Maglev slot's");
    } else {
      Step(out, "conntrack", "entry for this 5-tuple", false,
           "none: the first packet records the Maglev slot's backend");
    }
    auto id = kernel->MaglevSlot((*value)->service_id, slot);
    if (!id.ok()) return id.status();
    if (*id) {
      auto b = kernel->backends.Lookup(**id);
      if (!b.ok()) return b.status();
      if (*b && ((*b)->flags & XG_BACKEND_VALID)) {
        have_slot = true;
        out.set_slot_backend_id(**id);
        api::L4BackendView* v = out.mutable_slot_backend();
        v->set_address(maps::FormatAddress((*b)->addr));
        v->set_port((*b)->port);
        for (const SnapshotBackend& sb : backends) {
          if (sb.view.port() == v->port() && SameAddress(sb.view.address(), (*b)->addr)) {
            v->set_weight(sb.view.weight());
            v->set_service(sb.view.service());
          }
        }
      }
    }
  } else {
    std::vector<l4::MaglevBackend> list;
    for (const SnapshotBackend& sb : backends) list.push_back(sb.maglev);
    std::vector<uint32_t> table = l4::BuildMaglevTable(std::move(list), XG_MAGLEV_SIZE);
    if (!table.empty()) {
      have_slot = true;
      *out.mutable_slot_backend() = backends[table[slot]].view;
    }
  }
  std::string slot_subject =
      absl::StrFormat("slot %u of %u (flow hash 0x%08x)", slot, XG_MAGLEV_SIZE, hash);
  if (have_slot) {
    Step(out, "maglev", slot_subject, !out.pinned(),
         absl::StrCat("names ", Describe(out.slot_backend()),
                      out.pinned() ? "; the connection table decides instead" : ""));
  } else {
    Step(out, "maglev", slot_subject, false, "the listener has no table: no ready backend");
  }
  if (out.pinned()) {
    api::L4BackendView* v = out.mutable_backend();
    v->set_address(out.conntrack().backend_address());
    v->set_port(out.conntrack().backend_port());
    for (const SnapshotBackend& sb : backends) {
      if (sb.view.port() == v->port() && sb.view.address() == v->address()) {
        v->set_service(sb.view.service());
        v->set_weight(sb.view.weight());
      }
    }
    out.set_outcome("forward");
  } else if (have_slot) {
    *out.mutable_backend() = out.slot_backend();
    out.set_outcome("forward");
  } else {
    out.set_outcome("drop_no_backend");
  }
  return out;
}

}  // namespace xgate::inspect
