// Status checks (FORMAT.md E8) over the objects the agent reports, as a Kubernetes List
// (`xgatectl get ... -o json`): pure functions returning the first difference in words, or
// an empty string when the entry holds.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "tools/conformance/case.h"

namespace xgate::conformance {

inline constexpr char kControllerName[] = "xgate.dev/node-agent";

// `items`: the List's items (any kinds mixed). Every condition checked must carry
// observedGeneration equal to the object's metadata.generation.
std::string CheckStatus(const StatusCheck& check, const nlohmann::json& items);

// The object of `kind`, `ns`, `name` among `items`, or null.
const nlohmann::json* FindObject(const nlohmann::json& items, const std::string& kind,
                                 const std::string& ns, const std::string& name);

}  // namespace xgate::conformance
