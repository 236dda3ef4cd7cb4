#include "tools/xgatectl/client.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/kube/selectors.h"
#include "agent/status/status.h"
#include "api/admin.grpc.pb.h"
#include "tools/xgatectl/inspect.h"
#include "tools/xgatectl/node.h"
#include "tools/xgatectl/output.h"

namespace xgate::ctl {
namespace {

using nlohmann::json;

std::string ConditionStatus(const json& conditions, const std::string& type) {
  for (const auto& c : conditions) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "Unknown";
}

std::string Join(const json& values) {
  std::string out;
  for (const auto& v : values) absl::StrAppend(&out, out.empty() ? "" : ",", v.get<std::string>());
  return out.empty() ? "*" : out;
}

bool IsRoute(const std::string& kind) {
  return kind == "HTTPRoute" || kind == "TCPRoute" || kind == "UDPRoute" || kind == "TLSRoute" ||
         kind == "GRPCRoute";
}

// The Gateways or routes the command line picks: -n, -l and NAME. NotFound when NAME names
// none, InvalidArgument for a bad selector.
absl::StatusOr<json> Select(const Args& args, const std::string& what, const json& all) {
  auto selector = kube::Selector::Labels(args.selector);
  if (!selector.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("-l ", selector.status().message()));
  }
  json items = json::array();
  for (const auto& item : all) {
    std::string kind = item.value("kind", "");
    const json& meta = item["metadata"];
    if (!((what == "gateways" && kind == "Gateway") || (what == "routes" && IsRoute(kind)))) {
      continue;
    }
    if (!args.ns.empty() && meta.value("namespace", "") != args.ns) continue;
    if (!args.name.empty() && meta.value("name", "") != args.name) continue;
    if (!selector->Matches(item)) continue;
    items.push_back(item);
  }
  if (!args.name.empty() && items.empty()) {
    std::string where = args.ns.empty() ? "" : absl::StrCat(" in namespace ", args.ns);
    return absl::NotFoundError(absl::StrCat(what, " \"", args.name, "\" not found", where));
  }
  return items;
}

// "name:PROTOCOL/port" of each listener.
std::string ListenerPorts(const json& gateway) {
  std::string ports;
  for (const auto& l : gateway["spec"].value("listeners", json::array())) {
    absl::StrAppend(&ports, ports.empty() ? "" : ",", l.value("name", ""), ":",
                    l.value("protocol", ""), "/", l.value("port", 0));
  }
  return ports.empty() ? "<none>" : ports;
}

std::vector<std::vector<std::string>> GatewayRows(const json& items, bool wide) {
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "NAME", "CLASS", "ADDRESSES", "ACCEPTED", "PROGRAMMED", "LISTENERS"}};
  if (wide) rows[0].insert(rows[0].end(), {"PORTS", "ATTACHED ROUTES"});
  for (const auto& gw : items) {
    json st = gw.value("status", json::object());
    json conditions = st.value("conditions", json::array());
    std::string addresses;
    for (const auto& a : st.value("addresses", json::array())) {
      addresses += (addresses.empty() ? "" : ",") + a.value("value", "");
    }
    // Each listener not accepted with its reason (PortUnavailable: the port is taken), else
    // how many there are.
    std::string listeners;
    size_t count = 0;
    int attached = 0;
    for (const auto& l : st.value("listeners", json::array())) {
      ++count;
      attached += l.value("attachedRoutes", 0);
      for (const auto& c : l.value("conditions", json::array())) {
        if (c.value("type", "") != "Accepted" || c.value("status", "") == "True") continue;
        listeners +=
            (listeners.empty() ? "" : ",") + l.value("name", "") + ": " + c.value("reason", "");
      }
    }
    if (listeners.empty()) listeners = std::to_string(count) + " accepted";
    rows.push_back({gw["metadata"].value("namespace", ""), gw["metadata"].value("name", ""),
                    gw["spec"].value("gatewayClassName", ""),
                    addresses.empty() ? "<none>" : addresses,
                    ConditionStatus(conditions, "Accepted"),
                    ConditionStatus(conditions, "Programmed"), listeners});
    if (wide) rows.back().insert(rows.back().end(), {ListenerPorts(gw), std::to_string(attached)});
  }
  return rows;
}

// "namespace/name:port" of each distinct backendRef of the route's rules.
std::string BackendRefs(const json& route) {
  std::string ns = route["metadata"].value("namespace", "");
  std::vector<std::string> refs;
  for (const auto& rule : route["spec"].value("rules", json::array())) {
    for (const auto& b : rule.value("backendRefs", json::array())) {
      std::string ref = absl::StrCat(b.value("namespace", ns), "/", b.value("name", ""));
      if (b.contains("port")) absl::StrAppend(&ref, ":", b["port"].dump());
      if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(ref);
    }
  }
  return refs.empty() ? "<none>" : absl::StrJoin(refs, ",");
}

std::vector<std::vector<std::string>> RouteRows(const json& items, bool wide) {
  std::vector<std::vector<std::string>> rows = {
      {"KIND", "NAMESPACE", "NAME", "HOSTNAMES", "PARENTS", "ACCEPTED", "RESOLVEDREFS"}};
  if (wide) rows[0].insert(rows[0].end(), {"RULES", "BACKENDS"});
  for (const auto& route : items) {
    std::string parents, accepted, resolved;
    for (const auto& p : route.value("status", json::object()).value("parents", json::array())) {
      const json& ref = p["parentRef"];
      std::string sep = parents.empty() ? "" : ",";
      parents += sep + ref.value("namespace", route["metadata"].value("namespace", "")) + "/" +
                 ref.value("name", "");
      accepted += sep + ConditionStatus(p["conditions"], "Accepted");
      resolved += sep + ConditionStatus(p["conditions"], "ResolvedRefs");
    }
    rows.push_back({route.value("kind", ""), route["metadata"].value("namespace", ""),
                    route["metadata"].value("name", ""),
                    Join(route["spec"].value("hostnames", json::array())),
                    parents.empty() ? "<none>" : parents, accepted, resolved});
    if (wide) {
      rows.back().insert(
          rows.back().end(),
          {std::to_string(route["spec"].value("rules", json::array()).size()), BackendRefs(route)});
    }
  }
  return rows;
}

void PrintRows(std::vector<std::vector<std::string>> rows, bool no_headers, std::ostream& out) {
  if (no_headers) rows.erase(rows.begin());
  PrintTable(rows, out);
}

int GetObjects(const Args& args, const std::string& what, std::ostream& out, std::ostream& err) {
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::GetStateRequest request;
  api::GetStateResponse response;
  grpc::Status s = stub->GetState(&context, request, &response);
  if (!s.ok()) return Failed(args, s, err);
  json list = json::parse(response.objects_json());

  if (what == "status") {
    if (args.output.empty()) {
      out << "Snapshot " << response.generation() << " applied at " << response.applied_at() << "\n"
          << response.summary();
      if (!response.last_error().empty()) {
        out << "Last change not applied: " << response.last_error() << "\n";
      }
    } else {
      Print(list, args.output, out);
    }
    return 0;
  }
  auto selected = Select(args, what, list["items"]);
  if (!selected.ok()) {
    err << "xgatectl get: " << selected.status().message() << "\n";
    return selected.status().code() == absl::StatusCode::kNotFound ? 1 : 2;
  }
  json items = *std::move(selected);
  if (args.output == "name") {  // kubectl's: KIND.GROUP/NAME
    for (const auto& item : items) {
      std::string kind = absl::AsciiStrToLower(item.value("kind", ""));
      out << kind << ".gateway.networking.k8s.io/" << item["metadata"].value("name", "") << "\n";
    }
    return 0;
  }
  if (!args.output.empty()) {
    if (!args.name.empty() && items.size() == 1) {
      Print(items[0], args.output, out);  // one object by name, as kubectl get TYPE NAME
    } else {
      list["items"] = items;
      Print(list, args.output, out);
    }
    return 0;
  }
  if (items.empty()) {
    err << "No resources found.\n";
    return 0;
  }
  PrintRows(what == "gateways" ? GatewayRows(items, args.wide) : RouteRows(items, args.wide),
            args.no_headers, out);
  return 0;
}

int GetBackends(const Args& args, std::ostream& out, std::ostream& err) {
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::GetSnapshotRequest request;
  api::GetSnapshotResponse response;
  grpc::Status s = stub->GetSnapshot(&context, request, &response);
  if (!s.ok()) return Failed(args, s, err);
  if (!args.output.empty()) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = false;
    api::GetSnapshotResponse view;
    view.set_generation(response.generation());
    *view.mutable_l4() = response.l4();
    *view.mutable_l7()->mutable_clusters() = response.l7().clusters();
    (void)google::protobuf::util::MessageToJsonString(view, &text, options);
    Print(json::parse(text), args.output, out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"KIND", "NAME", "ENDPOINTS"}};
  for (const auto& c : response.l7().clusters()) {
    std::string endpoints;
    for (const auto& e : c.endpoints()) {
      endpoints += (endpoints.empty() ? "" : ",") + e.address() + ":" + std::to_string(e.port());
    }
    rows.push_back({"L7", c.name(), endpoints.empty() ? "<none>" : endpoints});
  }
  for (const auto& l : response.l4()) {
    std::string endpoints;
    for (const auto& b : l.backends()) {
      std::ostringstream share;
      share << std::fixed << std::setprecision(1) << b.weight() / 10000.0;
      endpoints += (endpoints.empty() ? "" : ",") + b.address() + ":" + std::to_string(b.port()) +
                   "(" + share.str() + "%)";
    }
    rows.push_back(
        {"L4", l.address() + ":" + std::to_string(l.port()) + "/" + l.protocol() + " " + l.route(),
         endpoints.empty() ? "<none>" : endpoints});
  }
  PrintTable(rows, out);
  return 0;
}

// What `get` reads, in the plural: "gateways", "routes", "backends", ...; "status".
std::string Resource(const Args& args) {
  std::string what = args.command == "status" ? "status" : "";
  if (what.empty() && !args.positional.empty()) what = args.positional[0];
  if (what == "gateway") what = "gateways";
  if (what == "route") what = "routes";
  if (what == "backend") what = "backends";
  return what;
}

bool ReadManifest(const Args& args, std::string& text, std::ostream& err) {
  if (args.file.empty()) {
    err << "xgatectl " << args.command << ": -f FILE is required\n";
    return false;
  }
  std::stringstream ss;
  if (args.file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(args.file);
    if (!in) {
      err << "xgatectl " << args.command << ": cannot read " << args.file << "\n";
      return false;
    }
    ss << in.rdbuf();
  }
  text = ss.str();
  return true;
}

}  // namespace

int RunGet(const Args& args, std::ostream& out, std::ostream& err) {
  std::string what = Resource(args);
  if (args.output == "name" && what != "gateways" && what != "routes") {
    err << "xgatectl get: -o name is for gateways and routes\n";
    return 2;
  }
  if (what == "backends") return GetBackends(args, out, err);
  if (what == "conntrack") return GetConntrack(args, out, err);
  if (what == "counters") return GetCounters(args, out, err);
  if (what == "pods" || what == "pod") return GetPods(args, out, err);
  if (what == "gateways" || what == "routes" || what == "status") {
    return GetObjects(args, what, out, err);
  }
  err << "xgatectl get: gateways, routes, backends, status, conntrack, counters or pods\n";
  return 2;
}

std::vector<std::string> ObjectNames(const Args& args) {
  std::string what = Resource(args);
  if (what != "gateways" && what != "routes") return {};
  if (!args.node.empty()) return NamesOnNode(args, what);
  auto stub = Connect(args);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  api::GetStateRequest request;
  api::GetStateResponse response;
  if (!stub->GetState(&context, request, &response).ok()) return {};
  json list = json::parse(response.objects_json(), nullptr, false);
  if (list.is_discarded()) return {};
  auto selected = Select(args, what, list["items"]);
  if (!selected.ok()) return {};
  std::vector<std::string> names;
  for (const auto& item : *selected) names.push_back(item["metadata"].value("name", ""));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

int RunApply(const Args& args, std::ostream& out, std::ostream& err) {
  std::string manifest;
  if (!ReadManifest(args, manifest, err)) return 2;
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::ApplyRequest request;
  request.set_manifest(manifest);
  request.set_filename(args.file == "-" ? "<stdin>" : args.file);
  api::ApplyResponse response;
  grpc::Status s = stub->Apply(&context, request, &response);
  if (!s.ok()) return Failed(args, s, err);
  for (const auto& o : response.objects()) out << o << " configured\n";
  if (!response.last_error().empty()) {
    err << "xgatectl apply: written, but not applied: " << response.last_error() << "\n";
    return 1;
  }
  out << "snapshot " << response.generation() << " applied\n";
  return 0;
}

int RunDelete(const Args& args, std::ostream& out, std::ostream& err) {
  std::string manifest;
  if (!ReadManifest(args, manifest, err)) return 2;
  auto stub = Connect(args);
  grpc::ClientContext context;
  SetDeadline(context);
  api::DeleteRequest request;
  request.set_manifest(manifest);
  request.set_filename(args.file == "-" ? "<stdin>" : args.file);
  api::DeleteResponse response;
  grpc::Status s = stub->Delete(&context, request, &response);
  if (!s.ok()) return Failed(args, s, err);
  for (const auto& o : response.deleted()) out << o << " deleted\n";
  for (const auto& o : response.not_found()) err << o << " not found\n";
  if (!response.last_error().empty()) {
    err << "xgatectl delete: removed, but not applied: " << response.last_error() << "\n";
    return 1;
  }
  out << "snapshot " << response.generation() << " applied\n";
  return response.not_found().empty() ? 0 : 1;
}

}  // namespace xgate::ctl
