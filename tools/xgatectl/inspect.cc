#include "tools/xgatectl/inspect.h"

#include <iomanip>
#include <map>
#include <sstream>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tools/xgatectl/output.h"

namespace xgate::ctl {
namespace {

std::string Share(double percent) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << percent << "%";
  return s.str();
}

std::string HostPort(const std::string& address, uint32_t port) {
  bool v6 = address.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", address, v6 ? "]" : "", ":", port);
}

std::string Backend(const api::L4BackendView& b) {
  if (b.address().empty()) return "<none>";
  return absl::StrCat(HostPort(b.address(), b.port()),
                      b.service().empty() ? "" : absl::StrCat(" (", b.service(), ")"));
}

void PrintSteps(const google::protobuf::RepeatedPtrField<api::ExplainStep>& steps,
                std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {{"STAGE", "CANDIDATE", "RESULT", "WHY"}};
  for (const auto& s : steps) {
    rows.push_back({s.stage(), s.subject(), s.matched() ? "matched" : "no match",
                    s.reason().empty() ? "-" : s.reason()});
  }
  out << "Why:\n";
  std::ostringstream table;
  PrintTable(rows, table);
  std::istringstream lines(table.str());
  for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
}

void PrintRequest(const api::RequestProbe& probe, const api::RequestExplanation& e,
                  std::ostream& out) {
  out << "Request:   " << (probe.method().empty() ? "GET" : probe.method()) << " "
      << (probe.path().empty() ? "/" : probe.path()) << " Host "
      << (!probe.host().empty()  ? probe.host()
          : !probe.sni().empty() ? probe.sni()
                                 : probe.listener_address())
      << " on " << HostPort(probe.listener_address(), probe.listener_port())
      << (probe.sni().empty() ? "" : absl::StrCat(" SNI ", probe.sni())) << "\n";
  out << "Outcome:   " << e.outcome();
  if (e.status() != 0) out << " (HTTP " << e.status() << ")";
  out << "\n";
  if (!e.listener().empty()) {
    out << "Listener:  " << e.listener() << " (" << e.port_protocol() << ")\n";
  }
  if (!e.route().empty()) {
    out << "Route:     " << e.route() << " rule " << e.rule_index() << " match " << e.match_index()
        << (e.redirect() ? " (answers with a redirect)" : "") << "\n";
  }
  if (e.backends_size() > 0) {
    out << "Backends:\n";
    std::vector<std::vector<std::string>> rows = {
        {"SERVICE", "CLUSTER", "WEIGHT", "SHARE", "ENDPOINTS"}};
    for (const auto& b : e.backends()) {
      std::string endpoints;
      for (const auto& ep : b.endpoints()) {
        absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",",
                        HostPort(ep.address(), ep.port()));
      }
      rows.push_back({b.service().empty() ? "-" : b.service(),
                      b.cluster().empty() ? "<invalid>" : b.cluster(), std::to_string(b.weight()),
                      Share(b.share_percent()), endpoints.empty() ? "<none>" : endpoints});
    }
    std::ostringstream table;
    PrintTable(rows, table);
    std::istringstream lines(table.str());
    for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  }
  PrintSteps(e.steps(), out);
}

void PrintPacket(const api::PacketProbe& probe, const api::PacketExplanation& e,
                 std::ostream& out) {
  out << "Packet:    " << HostPort(probe.src_address(), probe.src_port()) << " -> "
      << HostPort(probe.dst_address(), probe.dst_port()) << "/" << probe.protocol() << "\n";
  out << "Outcome:   " << e.outcome() << "\n";
  if (!e.listener().empty()) out << "Listener:  " << e.listener() << " (" << e.route() << ")\n";
  std::ostringstream hash;
  hash << "0x" << std::hex << std::setw(8) << std::setfill('0') << e.flow_hash();
  out << "Flow hash: " << hash.str() << ", Maglev slot " << e.maglev_slot() << " (from the "
      << e.source() << ")\n";
  if (!e.listener().empty()) {
    out << "Slot:      " << Backend(e.slot_backend()) << "\n";
    if (e.source() == "kernel") {
      if (e.has_conntrack()) {
        const auto& c = e.conntrack();
        out << "Conntrack: " << HostPort(c.backend_address(), c.backend_port()) << ", age "
            << c.age_ms() << " ms, idle " << c.idle_ms() << " ms"
            << (c.stale() ? " (stale: its backend is gone)" : " (pins the flow)") << "\n";
      } else {
        out << "Conntrack: no entry\n";
      }
    } else {
      out << "Conntrack: not read (the agent runs without --attach)\n";
    }
    out << "Backend:   " << Backend(e.backend()) << "\n";
  }
  PrintSteps(e.steps(), out);
}

api::Header ParseHeader(const std::string& text, bool* ok) {
  api::Header h;
  size_t colon = text.find(':');
  *ok = colon != std::string::npos && colon > 0;
  if (*ok) {
    h.set_name(std::string(absl::StripAsciiWhitespace(text.substr(0, colon))));
    h.set_value(std::string(absl::StripAsciiWhitespace(text.substr(colon + 1))));
  }
  return h;
}

}  // namespace

absl::StatusOr<std::pair<std::string, uint32_t>> ParseHostPort(const std::string& text,
                                                               const std::string& flag) {
  std::string address, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", text, ": write an IPv6 address as [ADDR]:PORT"));
    }
    address = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " \"", text, "\": ADDR:PORT (IPv6 as [ADDR]:PORT)"));
    }
    address = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint32_t n = 0;
  if (address.empty() || !absl::SimpleAtoi(port, &n) || n == 0 || n > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\": ADDR:PORT with a port 1-65535"));
  }
  return std::pair{address, n};
}

absl::StatusOr<api::ExplainRequest> BuildExplainRequest(const Args& args) {
  std::string what = args.positional.empty() ? "" : args.positional[0];
  api::ExplainRequest request;
  if (what == "request") {
    if (args.listener.empty()) {
      return absl::InvalidArgumentError(
          "explain request: --listener ADDR:PORT (where the request arrives) is required");
    }
    auto listener = ParseHostPort(args.listener, "--listener");
    if (!listener.ok()) return listener.status();
    api::RequestProbe* probe = request.mutable_request();
    probe->set_listener_address(listener->first);
    probe->set_listener_port(listener->second);
    probe->set_sni(args.sni);
    probe->set_host(args.host);
    probe->set_method(args.method);
    probe->set_path(args.path);
    for (const std::string& h : args.headers) {
      bool ok = false;
      api::Header header = ParseHeader(h, &ok);
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat("-H \"", h, "\": write 'Name: value'"));
      }
      *probe->add_headers() = std::move(header);
    }
    return request;
  }
  if (what == "packet") {
    if (args.src.empty() || args.dst.empty() || args.proto.empty()) {
      return absl::InvalidArgumentError(
          "explain packet: --src ADDR:PORT, --dst ADDR:PORT and --proto tcp|udp are required");
    }
    auto src = ParseHostPort(args.src, "--src");
    if (!src.ok()) return src.status();
    auto dst = ParseHostPort(args.dst, "--dst");
    if (!dst.ok()) return dst.status();
    if (args.proto != "tcp" && args.proto != "udp") {
      return absl::InvalidArgumentError(absl::StrCat("--proto ", args.proto, ": tcp or udp"));
    }
    api::PacketProbe* probe = request.mutable_packet();
    probe->set_src_address(src->first);
    probe->set_src_port(src->second);
    probe->set_dst_address(dst->first);
    probe->set_dst_port(dst->second);
    probe->set_protocol(args.proto);
    return request;
  }
  return absl::InvalidArgumentError("explain: request or packet");
}

int RunExplain(const Args& args, std::ostream& out, std::ostream& err) {
  auto request = BuildExplainRequest(args);
  if (!request.ok()) {
    err << "xgatectl " << request.status().message() << "\n";
    return 2;
  }
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::ExplainResponse response;
  grpc::Status s = stub->Explain(&context, *request, &response);
  if (!s.ok()) return Failed(args, s, err);
  if (!args.output.empty()) {
    PrintMessage(response, args.output, out);
  } else if (response.has_request()) {
    PrintRequest(request->request(), response.request(), out);
  } else {
    PrintPacket(request->packet(), response.packet(), out);
  }
  return 0;
}

int GetConntrack(const Args& args, std::ostream& out, std::ostream& err) {
  uint64_t limit = 0;  // 0: every entry
  if (!args.limit.empty() && (!absl::SimpleAtoi(args.limit, &limit) || limit == 0)) {
    err << "xgatectl get conntrack: --limit " << args.limit << ": a positive number\n";
    return 2;
  }
  auto stub = Connect(args);
  api::GetConntrackResponse all;
  std::string token;
  do {
    grpc::ClientContext context;
    SetDeadline(context);
    api::GetConntrackRequest request;
    uint64_t left = limit == 0 ? 1000 : limit - all.entries_size();
    request.set_page_size(static_cast<uint32_t>(std::min<uint64_t>(left, 1000)));
    request.set_page_token(token);
    api::GetConntrackResponse page;
    grpc::Status s = stub->GetConntrack(&context, request, &page);
    if (!s.ok()) return Failed(args, s, err);
    for (auto& e : *page.mutable_entries()) *all.add_entries() = std::move(e);
    token = page.next_page_token();
  } while (!token.empty() && (limit == 0 || static_cast<uint64_t>(all.entries_size()) < limit));
  all.set_next_page_token(token);
  if (!args.output.empty()) {
    PrintMessage(all, args.output, out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"PROTO", "CLIENT", "GATEWAY", "BACKEND", "LISTENER", "AGE", "IDLE", "STATE"}};
  for (const auto& e : all.entries()) {
    rows.push_back({e.protocol(), HostPort(e.src_address(), e.src_port()),
                    HostPort(e.dst_address(), e.dst_port()),
                    HostPort(e.backend_address(), e.backend_port()),
                    e.listener().empty() ? "-" : e.listener(), absl::StrCat(e.age_ms() / 1000, "s"),
                    absl::StrCat(e.idle_ms() / 1000, "s"), e.stale() ? "stale" : "live"});
  }
  PrintTable(rows, out);
  if (!token.empty()) out << "(more entries: raise --limit)\n";
  return 0;
}

int GetCounters(const Args& args, std::ostream& out, std::ostream& err) {
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::GetCountersResponse response;
  grpc::Status s = stub->GetCounters(&context, api::GetCountersRequest(), &response);
  if (!s.ok()) return Failed(args, s, err);
  if (!args.output.empty()) {
    PrintMessage(response, args.output, out);
    return 0;
  }
  if (!response.fastpath_error().empty()) {
    out << "Fast path: " << response.fastpath_error() << "\n";
  } else {
    PrintFastPathCounters(response, out);
  }
  out << "\n";
  if (!response.proxy_up()) {
    out << "Proxy: " << response.proxy_error() << "\n";
  } else {
    PrintProxyCounters(response.proxy(), out);
  }
  return 0;
}

int GetPods(const Args& args, std::ostream& out, std::ostream& err) {
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::ListPodAttachmentsResponse response;
  grpc::Status s = stub->ListPodAttachments(&context, api::ListPodAttachmentsRequest(), &response);
  if (!s.ok()) return Failed(args, s, err);
  if (!args.output.empty()) {
    PrintMessage(response, args.output, out);
    return 0;
  }
  std::map<std::tuple<std::string, std::string, std::string>, const api::ProgrammedPod*> fast;
  for (const auto& p : response.programmed()) {
    fast[{p.network(), p.container_id(), p.ifname()}] = &p;
  }
  std::vector<std::vector<std::string>> rows = {{"NETWORK", "CONTAINER", "IFNAME", "ADDRESSES",
                                                 "HOST IFACE", "IFINDEX", "POD MAC", "FAST PATH"}};
  for (const auto& a : response.attachments()) {
    auto it = fast.find({a.network(), a.container_id(), a.ifname()});
    const api::ProgrammedPod* p = it == fast.end() ? nullptr : it->second;
    std::string state = p == nullptr ? "-" : p->problem().empty() ? "programmed" : p->problem();
    rows.push_back({a.network(), a.container_id().substr(0, 20), a.ifname(),
                    absl::StrJoin(a.addresses(), ","),
                    p && !p->host_interface().empty() ? p->host_interface() : "-",
                    p && p->ifindex() ? absl::StrCat(p->ifindex()) : "-",
                    p && !p->pod_mac().empty() ? p->pod_mac() : "-", state});
  }
  PrintTable(rows, out);
  if (response.mismatches().empty()) return 0;
  // Where the EndpointSlices and xgate-cni's records disagree about which pods run here.
  out << "\n";
  rows = {{"DISAGREEMENT", "ADDRESS", "ENDPOINTSLICE", "NODENAME"}};
  for (const auto& m : response.mismatches()) {
    rows.push_back({m.kind() == "no_record" ? "on this node, no CNI record"
                                            : "CNI record, slice puts it on another node",
                    m.address(), m.slice(), m.node_name()});
  }
  PrintTable(rows, out);
  return 0;
}

}  // namespace xgate::ctl

namespace xgate::ctl {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

void PrintTrafficTable(const std::string& title,
                       const google::protobuf::RepeatedPtrField<api::TrafficCounter>& counters,
                       std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {{title, "PACKETS", "BYTES"}};
  for (const auto& t : counters) {
    rows.push_back({t.name(), std::to_string(t.packets()), std::to_string(t.bytes())});
  }
  PrintTable(rows, out);
}

}  // namespace

void PrintProxyCounters(const api::ProxyStats& proxy, std::ostream& out) {
  out << "Proxy: config generation " << proxy.generation() << ", " << proxy.workers()
      << " workers\n";
  std::vector<std::vector<std::string>> rows = {{"ROUTE", "BACKEND", "CODE", "REQUESTS"}};
  for (const auto& r : proxy.requests()) {
    rows.push_back({OrDash(r.route()), OrDash(r.backend()), std::to_string(r.code()),
                    std::to_string(r.count())});
  }
  PrintTable(rows, out);
  out << "\n";
  rows = {{"BACKEND", "OPEN", "IDLE", "ACTIVE", "CONNECTS", "CONNECT ERRORS", "EJECTIONS",
           "RETRIES", "REUSES"}};
  for (const auto& c : proxy.clusters()) {
    rows.push_back({c.cluster(), std::to_string(c.connections_open()),
                    std::to_string(c.connections_idle()), std::to_string(c.connections_active()),
                    std::to_string(c.connects()), std::to_string(c.connect_errors()),
                    std::to_string(c.ejections()), std::to_string(c.retries()),
                    std::to_string(c.reuses())});
  }
  PrintTable(rows, out);
  out << "\n";
  rows = {{"DOWNSTREAM", "OPEN", "TOTAL"}};
  for (const auto& d : proxy.downstream()) {
    rows.push_back({d.protocol(), std::to_string(d.connections_open()),
                    std::to_string(d.connections_total())});
  }
  rows.push_back({"h2 streams", std::to_string(proxy.h2_streams_open()),
                  std::to_string(proxy.h2_streams_total())});
  PrintTable(rows, out);
  out << "\n";
  rows = {{"TLS HANDSHAKE", "REASON", "COUNT"}};
  for (const auto& t : proxy.tls_handshakes()) {
    if (t.result() == "ok" || t.count() > 0) {
      rows.push_back({t.result(), OrDash(t.reason()), std::to_string(t.count())});
    }
  }
  PrintTable(rows, out);
  out << "\n";
  rows = {{"PARSE REFUSAL", "CODE", "COUNT"}};
  for (const auto& r : proxy.parse_refusals()) {
    if (r.count() > 0)
      rows.push_back({r.reason(), std::to_string(r.code()), std::to_string(r.count())});
  }
  PrintTable(rows, out);
}

void PrintFastPathCounters(const api::GetCountersResponse& response, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {
      {"LISTENER", "KIND", "NAME", "ROUTE", "PACKETS", "BYTES"}};
  for (const auto& l : response.listeners()) {
    rows.push_back({absl::StrCat(HostPort(l.address(), l.port()), "/", l.protocol()), l.kind(),
                    l.listener().empty() ? "-" : l.listener(), l.route().empty() ? "-" : l.route(),
                    std::to_string(l.packets()), std::to_string(l.bytes())});
  }
  PrintTable(rows, out);
  out << "\n";
  rows = {{"BACKEND", "ID", "SERVICE", "LISTENER", "PACKETS", "BYTES"}};
  for (const auto& b : response.backends()) {
    rows.push_back({HostPort(b.address(), b.port()), std::to_string(b.id()),
                    b.service().empty() ? "-" : b.service(),
                    b.listener().empty() ? "-" : b.listener(), std::to_string(b.packets()),
                    std::to_string(b.bytes())});
  }
  PrintTable(rows, out);
  out << "\n";
  PrintTrafficTable("PATH", response.paths(), out);
  out << "\n";
  PrintTrafficTable("DROP", response.drops(), out);
  if (response.steering_size() > 0) {
    out << "\n";
    PrintTrafficTable("STEERING", response.steering(), out);
  }
  out << "\n";
  rows = {{"XDP TRANSMIT DROPS (INTERFACE)", "FRAMES"}};
  for (const auto& d : response.xmit_drops())
    rows.push_back({d.name(), std::to_string(d.packets())});
  PrintTable(rows, out);
}

}  // namespace xgate::ctl
