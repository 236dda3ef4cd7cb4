// Renders a Store's objects with the status the binder computed for them, the way
// `kubectl get -o json|yaml` shows objects, and as a readable summary for operators.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/binder/binder.h"
#include "agent/model/loader.h"
#include "agent/model/objects.h"

namespace xgate::status {

// Condition / status shapes exactly as the Gateway API CRDs define them.
nlohmann::json ConditionJson(const model::Condition& condition);
nlohmann::json GatewayClassStatusJson(const model::GatewayClassStatus& status);
nlohmann::json GatewayStatusJson(const model::GatewayStatus& status);
// status.attachedListenerSets is rendered when set (a Gateway that allows ListenerSets).
nlohmann::json ListenerSetStatusJson(const model::ListenerSetStatus& status);
nlohmann::json RouteStatusJson(const model::RouteStatus& status);
// A BackendTLSPolicy's status: {"ancestors": [{ancestorRef, controllerName, conditions}]}.
nlohmann::json PolicyStatusJson(const model::PolicyStatus& status);

// Every object of `store` (its `raw` form plus `status` where the binder produced one) as a
// {"apiVersion":"v1","kind":"List","items":[...]}, items ordered GatewayClasses, Gateways,
// ListenerSets, routes, ReferenceGrants, then core objects, each kind by namespace/name.
nlohmann::json ObjectList(const model::Store& store, const binder::Statuses& statuses);

// The same JSON value as YAML (block style, strings quoted where YAML would misread them).
std::string ToYaml(const nlohmann::json& value);

// A readable report: each Gateway and listener with what is attached to it (matches,
// weighted backends, endpoints), every condition that is not as it should be, and the
// load errors.
std::string Summary(const model::Store& store, const binder::BindResult& bound,
                    const std::vector<model::LoadError>& load_errors);

// Keeps the lastTransitionTime of each condition whose status did not change since
// `previous`, as the API server's SetStatusCondition does.
void CarryTransitionTimes(const binder::Statuses& previous, binder::Statuses& next);

}  // namespace xgate::status

namespace xgate::status {

// The current time as RFC 3339 in UTC ("2026-11-28T06:30:00Z"), for lastTransitionTime.
std::string NowRfc3339();

}  // namespace xgate::status
