// How xgate's status goes into an object's status as the API server has it, touching only
// xgate's part: the JSON shapes are the Gateway API CRDs' (status::*StatusJson renders ours).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace xgate::kube {

// A GatewayClass of xgate's: its conditions are replaced; other status fields stay.
nlohmann::json MergeGatewayClassStatus(const nlohmann::json& current, const nlohmann::json& ours);

// A Gateway of one of xgate's classes: conditions, listeners, addresses and
// attachedListenerSets are replaced (one absent in `ours`: absent in the result); other
// status fields stay.
nlohmann::json MergeGatewayStatus(const nlohmann::json& current, const nlohmann::json& ours);

// A ListenerSet whose parent is a Gateway of xgate's: conditions and listeners are replaced,
// as a Gateway's; other status fields stay.
nlohmann::json MergeListenerSetStatus(const nlohmann::json& current, const nlohmann::json& ours);

// The status the ListenerSet CRD gives a new ListenerSet (Accepted and Programmed Unknown,
// Pending, "Waiting for controller"): what xgate puts back, through MergeListenerSetStatus,
// when a ListenerSet it wrote the status of stops naming one of its Gateways.
nlohmann::json DefaultListenerSetStatus();

// A route: each status.parents entry whose controllerName is not `controller` stays as it is
// and where it is; each of xgate's is replaced by ours for the same parentRef, or dropped
// when ours has none for it; ours for new parents are appended. `ours` is {"parents": [...]}.
nlohmann::json MergeRouteStatus(const nlohmann::json& current, const nlohmann::json& ours,
                                const std::string& controller);

// A policy (BackendTLSPolicy): status.ancestors merged as MergeRouteStatus merges parents,
// keyed by ancestorRef. `ours` is {"ancestors": [...]}.
nlohmann::json MergePolicyStatus(const nlohmann::json& current, const nlohmann::json& ours,
                                 const std::string& controller);

// In every merge: a condition of ours keeps the lastTransitionTime `current` has for the same
// condition (same type, and same listener or parentRef) when its status did not change.

// Whether writing `merged` would change nothing: equal, where an absent status equals one
// whose fields are all empty.
bool SameStatus(const nlohmann::json& current, const nlohmann::json& merged);

}  // namespace xgate::kube
