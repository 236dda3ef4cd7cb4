// PATCH bodies. application/merge-patch+json is RFC 7386. application/strategic-merge-patch+json
// is merged the same way except for the directives kubectl apply sends: a list with a
// `$setElementOrder/<field>` is merged element by element on the key that directive names,
// `{"$patch": "delete", ...}` removes an element, `$deleteFromPrimitiveList/<field>` removes
// values; `$retainKeys` is ignored. Lists without such directives are replaced (the real server
// knows each built-in field's merge key from its Go types; this fixture does not).
#pragma once

#include <nlohmann/json.hpp>

namespace xgate::kubetest {

nlohmann::json MergePatch(nlohmann::json target, const nlohmann::json& patch);
nlohmann::json StrategicMergePatch(nlohmann::json target, const nlohmann::json& patch);

}  // namespace xgate::kubetest
