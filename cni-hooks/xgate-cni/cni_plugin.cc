#include "cni-hooks/xgate-cni/cni_plugin.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace xgate::cni {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::set<std::string> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};

Outcome Error(const std::string& version, int code, const std::string& msg,
              const std::string& details = "") {
  json err = {{"cniVersion", version.empty() ? "1.0.0" : version}, {"code", code}, {"msg", msg}};
  if (!details.empty()) err["details"] = details;
  return {1, err.dump()};
}

std::string Env(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

// The record file for one attachment: container id and interface name, both validated to
// be safe as a file name.
fs::path RecordPath(const fs::path& spool, const std::string& container,
                    const std::string& ifname) {
  return spool / (container + "-" + ifname + ".json");
}

bool SafeName(const std::string& s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return s != "." && s != "..";
}

// Host-side interfaces are those prevResult lists without a sandbox; container addresses
// are the ips whose interface index points at a sandboxed interface (or all, when unindexed).
json Attachment(const json& prev, const std::map<std::string, std::string>& env) {
  json host = json::array(), addresses = json::array();
  const json& ifaces = prev.value("interfaces", json::array());
  for (const auto& iface : ifaces) {
    if (!iface.contains("sandbox") || iface["sandbox"].get<std::string>().empty()) {
      host.push_back(iface.value("name", ""));
    }
  }
  for (const auto& ip : prev.value("ips", json::array())) {
    bool in_sandbox = true;
    if (ip.contains("interface") && ip["interface"].is_number_integer()) {
      size_t idx = ip["interface"].get<size_t>();
      in_sandbox = idx < ifaces.size() && ifaces[idx].contains("sandbox");
    }
    if (in_sandbox) {
      std::string cidr = ip.value("address", "");
      addresses.push_back(cidr.substr(0, cidr.find('/')));
    }
  }
  return {{"containerId", Env(env, "CNI_CONTAINERID")},
          {"netns", Env(env, "CNI_NETNS")},
          {"ifname", Env(env, "CNI_IFNAME")},
          {"hostInterfaces", host},
          {"addresses", addresses}};
}

// Writes atomically (temp file + rename) so the agent never reads half a record.
bool WriteRecord(const fs::path& path, const json& record) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp);
    out << record.dump() << "\n";
    if (!out) return false;
  }
  fs::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

Outcome RunPlugin(const std::map<std::string, std::string>& env, const std::string& stdin_text) {
  std::string command = Env(env, "CNI_COMMAND");
  if (command == "VERSION") {
    json supported = json::array();
    for (const auto& v : kSupportedVersions) supported.push_back(v);
    return {0, json{{"cniVersion", "1.0.0"}, {"supportedVersions", supported}}.dump()};
  }
  json conf = json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (conf.is_discarded() || !conf.is_object()) {
    return Error("", kDecodingFailure, "network configuration on stdin is not a JSON object");
  }
  std::string version = conf.value("cniVersion", "");
  if (!kSupportedVersions.contains(version)) {
    return Error(version, kIncompatibleVersion, "unsupported cniVersion '" + version + "'");
  }
  if (command != "ADD" && command != "DEL" && command != "CHECK") {
    return Error(version, kInvalidEnvironment, "CNI_COMMAND must be ADD, DEL, CHECK or VERSION",
                 "got '" + command + "'");
  }
  std::string container = Env(env, "CNI_CONTAINERID");
  std::string ifname = Env(env, "CNI_IFNAME");
  if (!SafeName(container) || !SafeName(ifname)) {
    return Error(version, kInvalidEnvironment, "CNI_CONTAINERID and CNI_IFNAME must be set",
                 "container '" + container + "', ifname '" + ifname + "'");
  }
  fs::path spool = conf.value("spoolDir", std::string(kDefaultSpoolDir));
  fs::path record = RecordPath(spool, container, ifname);

  if (command == "DEL") {
    std::error_code ec;
    fs::remove(record, ec);  // DEL cleans up what it can and succeeds
    return {0, ""};
  }
  if (!conf.contains("prevResult") || !conf["prevResult"].is_object()) {
    return Error(version, kInvalidConfig, "xgate-cni is a chained plugin: prevResult is required");
  }
  const json& prev = conf["prevResult"];
  json attachment = Attachment(prev, env);
  if (command == "CHECK") {
    std::ifstream in(record);
    json seen = json::parse(in, nullptr, false);
    if (seen.is_discarded() || seen != attachment) {
      return Error(version, kUnknownContainer, "no matching xgate record for this attachment",
                   record.string());
    }
    return {0, ""};
  }
  if (!WriteRecord(record, attachment)) {
    return Error(version, kIoFailure, "cannot write " + record.string());
  }
  json result = prev;
  result["cniVersion"] = version;
  return {0, result.dump()};
}

}  // namespace xgate::cni
