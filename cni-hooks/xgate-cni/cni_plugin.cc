#include "cni-hooks/xgate-cni/cni_plugin.h"

#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cni-hooks/xgate-cni/record.h"
#include "spdlog/spdlog.h"

namespace xgate::cni {
namespace {

// Ordered: prevResult goes back out with its keys in the order they came in.
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr std::array<const char*, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                                           "1.1.0"};
constexpr char kLatestVersion[] = "1.1.0";

struct Failure {
  int code;
  std::string msg;
  std::string details;
};

Outcome ErrorOutcome(const std::string& version, const Failure& f) {
  Json err = {{"cniVersion", version}, {"code", f.code}, {"msg", f.msg}, {"details", f.details}};
  return {1, err.dump()};
}

bool Supported(const std::string& v) {
  for (const char* s : kSupportedVersions) {
    if (v == s) return true;
  }
  return false;
}

// Semantic versions of the supported form compare as (major, minor, patch).
std::array<int, 3> VersionParts(const std::string& v) {
  std::array<int, 3> parts = {0, 0, 0};
  int i = 0;
  for (absl::string_view p : absl::StrSplit(v, '.')) {
    if (i < 3) parts[i++] = atoi(std::string(p).c_str());
  }
  return parts;
}
bool AtLeast(const std::string& v, const std::string& min) {
  return VersionParts(v) >= VersionParts(min);
}

std::string Env(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

// The variables each command needs (CNI spec, "Parameters"); CNI_NETNS is optional on DEL.
std::vector<std::string> RequiredEnv(const std::string& command) {
  if (command == "ADD" || command == "CHECK") {
    return {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"};
  }
  if (command == "DEL") return {"CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"};
  return {"CNI_PATH"};  // STATUS, GC
}

struct Invocation {
  std::string command;
  std::map<std::string, std::string> env;
  Json conf;
  std::string version;
  std::string network;
  fs::path state_dir;
  std::string admin_socket;
  const AgentReporter* report = nullptr;

  std::string container() const { return Env(env, "CNI_CONTAINERID"); }
  std::string ifname() const { return Env(env, "CNI_IFNAME"); }
};

// The attachment prevResult describes: interfaces outside a sandbox are the host side, and
// the pod's addresses are the ips on sandboxed interfaces (all of them when unindexed).
PodRecord RecordFromResult(const Invocation& inv, const Json& prev) {
  PodRecord r;
  r.set_network(inv.network);
  r.set_container_id(inv.container());
  r.set_ifname(inv.ifname());
  r.set_netns(Env(inv.env, "CNI_NETNS"));
  const Json ifaces = prev.value("interfaces", Json::array());
  for (const auto& iface : ifaces) {
    if (iface.value("sandbox", "").empty()) r.add_host_interfaces(iface.at("name"));
  }
  for (const auto& ip : prev.value("ips", Json::array())) {
    if (ip.contains("interface")) {
      size_t idx = ip.at("interface").get<size_t>();
      if (idx >= ifaces.size() || ifaces[idx].value("sandbox", "").empty()) continue;
    }
    std::string cidr = ip.at("address");
    r.add_addresses(cidr.substr(0, cidr.find('/')));
  }
  return r;
}

void Report(const Invocation& inv, const api::ReportPodAttachmentRequest& event) {
  absl::Status s = (*inv.report)(inv.admin_socket, event);
  if (!s.ok()) {
    spdlog::info("agent at {} not told ({}); it reads {} when it starts", inv.admin_socket,
                 std::string(s.message()), inv.state_dir.string());
  }
}

void ReportRemoved(const Invocation& inv, const std::string& container, const std::string& ifname) {
  api::ReportPodAttachmentRequest event;
  auto* key = event.mutable_removed();
  key->set_network(inv.network);
  key->set_container_id(container);
  key->set_ifname(ifname);
  Report(inv, event);
}

Outcome IoError(const Invocation& inv, const absl::Status& s) {
  return ErrorOutcome(inv.version,
                      {kIoFailure, "xgate-cni state folder", std::string(s.message())});
}

const Json* PrevResult(const Invocation& inv, Failure* failure) {
  auto it = inv.conf.find("prevResult");
  if (it == inv.conf.end() || !it->is_object()) {
    *failure = {kInvalidConfig, "xgate-cni is a chained plugin: prevResult is required",
                "put it after the primary plugin in the conflist's plugins"};
    return nullptr;
  }
  return &*it;
}

Outcome Add(const Invocation& inv, const Json& prev) {
  PodRecord record = RecordFromResult(inv, prev);
  if (absl::Status s = WriteRecord(inv.state_dir, record); !s.ok()) return IoError(inv, s);
  api::ReportPodAttachmentRequest event;
  *event.mutable_added() = record;
  Report(inv, event);
  return {0, prev.dump()};
}

Outcome Check(const Invocation& inv, const Json& prev) {
  fs::path path = RecordPath(inv.state_dir, inv.network, inv.container(), inv.ifname());
  auto seen = ReadRecord(path);
  if (absl::IsNotFound(seen.status())) {
    return ErrorOutcome(inv.version,
                        {kNoRecord, "xgate-cni has no record of this attachment", path.string()});
  }
  if (!seen.ok()) {
    return ErrorOutcome(inv.version, {kRecordDiffers, "xgate-cni's record cannot be read",
                                      absl::StrCat(path.string(), ": ", seen.status().message())});
  }
  PodRecord expected = RecordFromResult(inv, prev);
  if (!SameAttachment(*seen, expected)) {
    return ErrorOutcome(inv.version,
                        {kRecordDiffers, "xgate-cni's record does not match prevResult",
                         absl::StrCat(path.string(), " holds ", RecordToJson(*seen).dump(),
                                      ", prevResult says ", RecordToJson(expected).dump())});
  }
  return {0, ""};
}

Outcome Del(const Invocation& inv) {
  absl::Status s = RemoveRecord(inv.state_dir, inv.network, inv.container(), inv.ifname());
  if (!s.ok()) return IoError(inv, s);
  ReportRemoved(inv, inv.container(), inv.ifname());
  return {0, ""};
}

// Ready for ADD when the state folder takes a record; the agent need not be up.
Outcome Status(const Invocation& inv) {
  fs::path probe = inv.state_dir / absl::StrCat(".status", getpid());
  std::error_code ec;
  fs::create_directories(inv.state_dir, ec);
  bool writable = static_cast<bool>(std::ofstream(probe));
  fs::remove(probe, ec);
  if (!writable) {
    return ErrorOutcome(inv.version, {kPluginNotAvailable, "xgate-cni cannot record pods",
                                      inv.state_dir.string() + " is not writable"});
  }
  return {0, ""};
}

// Removes this network's records of attachments the runtime no longer knows.
Outcome Gc(const Invocation& inv) {
  auto it = inv.conf.find("cni.dev/valid-attachments");
  if (it == inv.conf.end() || !it->is_array()) {
    return ErrorOutcome(inv.version, {kInvalidConfig, "GC needs cni.dev/valid-attachments",
                                      "an array of {containerID, ifname}"});
  }
  std::set<std::pair<std::string, std::string>> valid;
  for (const auto& a : *it) {
    if (!a.is_object() || !a.value("containerID", Json()).is_string() ||
        !a.value("ifname", Json()).is_string()) {
      return ErrorOutcome(inv.version,
                          {kInvalidConfig, "bad entry in cni.dev/valid-attachments", a.dump()});
    }
    valid.emplace(a.at("containerID"), a.at("ifname"));
  }
  StateRead state = ReadState(inv.state_dir, inv.network);
  for (const auto& e : state.errors) spdlog::warn("GC: {}", e);
  for (const auto& r : state.records) {
    if (valid.contains({r.container_id(), r.ifname()})) continue;
    absl::Status s = RemoveRecord(inv.state_dir, r.network(), r.container_id(), r.ifname());
    if (!s.ok()) return IoError(inv, s);
    spdlog::info("GC: removed the record of {} {}", r.container_id(), r.ifname());
    ReportRemoved(inv, r.container_id(), r.ifname());
  }
  return {0, ""};
}

// Everything before the command itself: environment, configuration, version.
std::optional<Failure> Prepare(Invocation& inv, const std::string& stdin_text) {
  std::vector<std::string> missing;
  for (const auto& name : RequiredEnv(inv.command)) {
    if (Env(inv.env, name).empty()) missing.push_back(name);
  }
  if (!missing.empty()) {
    return Failure{kInvalidEnvironment, "required environment variables missing",
                   absl::StrJoin(missing, ", ")};
  }
  if (inv.env.contains("CNI_CONTAINERID") && !ValidContainerId(inv.container())) {
    return Failure{kInvalidEnvironment, "invalid CNI_CONTAINERID", inv.container()};
  }
  if (inv.env.contains("CNI_IFNAME") && !ValidIfname(inv.ifname())) {
    return Failure{kInvalidEnvironment, "invalid CNI_IFNAME", inv.ifname()};
  }
  inv.conf = Json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (inv.conf.is_discarded() || !inv.conf.is_object()) {
    return Failure{kDecodingFailure, "the network configuration on stdin is not a JSON object", ""};
  }
  const Json version = inv.conf.value("cniVersion", Json());
  if (!version.is_string()) {
    return Failure{kInvalidConfig, "the network configuration has no cniVersion", ""};
  }
  if (!Supported(version)) {
    return Failure{kIncompatibleVersion, "unsupported cniVersion " + version.dump(),
                   "supported: " + absl::StrJoin(kSupportedVersions, ", ")};
  }
  inv.version = version;
  std::string min = inv.command == "CHECK" ? "0.4.0" : "0.0.0";
  if (inv.command == "STATUS" || inv.command == "GC") min = "1.1.0";
  if (!AtLeast(inv.version, min)) {
    return Failure{kIncompatibleVersion,
                   absl::StrCat("cniVersion ", inv.version, " has no ", inv.command),
                   "needs " + min + " or later"};
  }
  const Json name = inv.conf.value("name", Json());
  if (!name.is_string() || !ValidNetworkName(name)) {
    return Failure{kInvalidConfig, "the network configuration needs a valid name", name.dump()};
  }
  inv.network = name;
  const Json state_dir = inv.conf.value("stateDir", Json(kDefaultStateDir));
  const Json socket = inv.conf.value("adminSocket", Json(kDefaultAdminSocket));
  if (!state_dir.is_string() || !socket.is_string()) {
    return Failure{kInvalidConfig, "stateDir and adminSocket are strings", ""};
  }
  inv.state_dir = state_dir.get<std::string>();
  inv.admin_socket = socket;
  return std::nullopt;
}

Outcome Version() {
  Json supported = Json::array();
  for (const char* v : kSupportedVersions) supported.push_back(v);
  return {0, Json{{"cniVersion", kLatestVersion}, {"supportedVersions", supported}}.dump()};
}

}  // namespace

Outcome RunPlugin(const std::map<std::string, std::string>& env, const std::string& stdin_text,
                  const AgentReporter& report) {
  Invocation inv;
  inv.command = Env(env, "CNI_COMMAND");
  inv.env = env;
  inv.report = &report;
  if (inv.command == "VERSION") return Version();
  static const std::set<std::string> kCommands = {"ADD", "DEL", "CHECK", "STATUS", "GC"};
  if (!kCommands.contains(inv.command)) {
    return ErrorOutcome(kLatestVersion,
                        {kInvalidEnvironment, "unknown CNI_COMMAND",
                         "'" + inv.command + "'; known: ADD, DEL, CHECK, STATUS, GC, VERSION"});
  }
  if (auto failure = Prepare(inv, stdin_text)) {
    return ErrorOutcome(inv.version.empty() ? kLatestVersion : inv.version, *failure);
  }
  try {
    if (inv.command == "DEL") return Del(inv);
    if (inv.command == "STATUS") return Status(inv);
    if (inv.command == "GC") return Gc(inv);
    Failure failure;
    const Json* prev = PrevResult(inv, &failure);
    if (prev == nullptr) return ErrorOutcome(inv.version, failure);
    return inv.command == "ADD" ? Add(inv, *prev) : Check(inv, *prev);
  } catch (const Json::exception& e) {
    return ErrorOutcome(inv.version, {kInvalidConfig, "prevResult is not a CNI result", e.what()});
  }
}

}  // namespace xgate::cni
