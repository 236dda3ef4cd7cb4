#include "cni-hooks/xgate-cni/record.h"

#include <unistd.h>

#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "cni-hooks/xgate-cni/files.h"
#include "google/protobuf/util/message_differencer.h"

namespace xgate::cni {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kSuffix[] = ".json";

bool NameChars(const std::string& s) {
  if (s.empty() || !isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::vector<std::string> Strings(const json& j, const char* field) {
  std::vector<std::string> out;
  if (!j.contains(field)) return out;
  for (const auto& v : j.at(field)) out.push_back(v.get<std::string>());
  return out;
}

void ReadNetwork(const fs::path& folder, StateRead& out) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() != kSuffix) continue;  // skips half-written temp files
    auto record = ReadRecord(entry.path());
    if (record.ok()) {
      out.records.push_back(*std::move(record));
    } else {
      out.errors.push_back(absl::StrCat(entry.path().string(), ": ", record.status().message()));
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    out.errors.push_back(absl::StrCat(folder.string(), ": ", ec.message()));
  }
}

}  // namespace

json RecordToJson(const PodRecord& r) {
  return {{"network", r.network()},
          {"containerID", r.container_id()},
          {"ifname", r.ifname()},
          {"netns", r.netns()},
          {"hostInterfaces",
           std::vector<std::string>(r.host_interfaces().begin(), r.host_interfaces().end())},
          {"addresses", std::vector<std::string>(r.addresses().begin(), r.addresses().end())}};
}

absl::StatusOr<PodRecord> RecordFromJson(const json& j) {
  try {
    PodRecord r;
    r.set_network(j.at("network").get<std::string>());
    r.set_container_id(j.at("containerID").get<std::string>());
    r.set_ifname(j.at("ifname").get<std::string>());
    r.set_netns(j.value("netns", ""));
    for (auto& s : Strings(j, "hostInterfaces")) r.add_host_interfaces(s);
    for (auto& s : Strings(j, "addresses")) r.add_addresses(s);
    if (!ValidNetworkName(r.network()) || !ValidContainerId(r.container_id()) ||
        !ValidIfname(r.ifname())) {
      return absl::InvalidArgumentError("network, containerID or ifname is not a valid name");
    }
    return r;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not an xgate-cni record: ", e.what()));
  }
}

bool SameAttachment(const PodRecord& a, const PodRecord& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

bool ValidNetworkName(const std::string& s) { return NameChars(s); }
bool ValidContainerId(const std::string& s) { return NameChars(s); }

bool ValidIfname(const std::string& s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  for (char c : s) {
    if (c == '/' || c == ':' || isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

fs::path RecordPath(const fs::path& dir, const std::string& network,
                    const std::string& container_id, const std::string& ifname) {
  return dir / network / (container_id + ":" + ifname + kSuffix);
}

absl::Status WriteRecord(const fs::path& dir, const PodRecord& record) {
  fs::path path = RecordPath(dir, record.network(), record.container_id(), record.ifname());
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return absl::InternalError(absl::StrCat(path.parent_path().string(), ": ", ec.message()));
  return ReplaceFile(path, RecordToJson(record).dump() + "\n");
}

absl::StatusOr<PodRecord> ReadRecord(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no record ", path.string()));
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not JSON");
  return RecordFromJson(j);
}

absl::Status RemoveRecord(const fs::path& dir, const std::string& network,
                          const std::string& container_id, const std::string& ifname) {
  fs::path path = RecordPath(dir, network, container_id, ifname);
  std::error_code ec;
  fs::remove(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::InternalError(absl::StrCat("cannot remove ", path.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

StateRead ReadState(const fs::path& dir, const std::string& network) {
  StateRead out;
  if (!network.empty()) {
    ReadNetwork(dir / network, out);
    return out;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory()) ReadNetwork(entry.path(), out);
  }
  return out;
}

}  // namespace xgate::cni
