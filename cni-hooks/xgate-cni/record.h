// xgate-cni's record of one pod attachment, and the state folder that holds the records:
// DIR/NETWORK/CONTAINERID:IFNAME.json, one JSON object each, written atomically. The plugin
// writes them on ADD and removes them on DEL and GC; the agent reads them all when it starts.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/admin.pb.h"

namespace xgate::cni {

inline constexpr char kDefaultStateDir[] = "/run/xgate/cni";

// The record is the admin API's PodAttachment; its JSON form is the file's.
using PodRecord = api::PodAttachment;

nlohmann::json RecordToJson(const PodRecord& record);
absl::StatusOr<PodRecord> RecordFromJson(const nlohmann::json& j);
bool SameAttachment(const PodRecord& a, const PodRecord& b);

// CNI's name rules: a network name or container id starts with a letter or digit, then
// letters, digits, '_', '.', '-'; an interface name is 1-15 bytes, not "." or "..", without
// '/', ':' or white space.
bool ValidNetworkName(const std::string& s);
bool ValidContainerId(const std::string& s);
bool ValidIfname(const std::string& s);

std::filesystem::path RecordPath(const std::filesystem::path& dir, const std::string& network,
                                 const std::string& container_id, const std::string& ifname);
absl::Status WriteRecord(const std::filesystem::path& dir, const PodRecord& record);
// NotFound when there is no record.
absl::StatusOr<PodRecord> ReadRecord(const std::filesystem::path& path);
// OK when the record was already gone.
absl::Status RemoveRecord(const std::filesystem::path& dir, const std::string& network,
                          const std::string& container_id, const std::string& ifname);

struct StateRead {
  std::vector<PodRecord> records;
  std::vector<std::string> errors;  // "FILE: why", for records that could not be read
};
// Every record under `dir` (all networks), or under dir/network when `network` is set. A
// missing folder holds none.
StateRead ReadState(const std::filesystem::path& dir, const std::string& network = "");

}  // namespace xgate::cni
