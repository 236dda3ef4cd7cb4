// The node's CNI network configuration as a runtime reads it (libcni's ConfFiles): the first of
// the *.conf, *.conflist and *.json files of the folder in name order is the network pods get.
// xgate-cni joins it as the last plugin of that list; these are the pure JSON edits.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace xgate::cni_install {

using Json = nlohmann::ordered_json;

inline constexpr char kPluginType[] = "xgate-cni";

// Checks that `conf` is a network configuration list (name, cniVersion, a non-empty "plugins"
// array of objects each with a "type"); the error names the field. `file` prefixes errors.
absl::Status ValidateConfList(const Json& conf, const std::string& file);

// A single-plugin configuration (*.conf, *.json) as a list: name and cniVersion move up, the
// rest becomes the one plugin, as libcni's ConfListFromConf does.
absl::StatusOr<Json> ConfToConfList(const Json& conf, const std::string& file);

// The list with every xgate-cni entry removed and `entry` appended as the last plugin.
Json WithPlugin(Json conflist, const Json& entry);

// The list with every xgate-cni entry removed.
Json WithoutPlugin(Json conflist);

// Whether a plugin of type xgate-cni is in the list.
bool HasPlugin(const Json& conflist);

}  // namespace xgate::cni_install
