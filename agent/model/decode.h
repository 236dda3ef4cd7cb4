// Decoders from a manifest's (v1-shaped) JSON to the typed objects of objects.h. Each checks
// the rules the CRD (or the core API) enforces and throws DecodeError naming the field.
#pragma once

#include <set>
#include <string>

#include "agent/model/decode_node.h"
#include "agent/model/objects.h"

namespace xgate::model {

// metadata: name, namespace (defaulted to "default" for namespaced kinds), labels,
// annotations, generation (defaulted to 1), creationTimestamp.
void DecodeMeta(const Node& root, Kind kind, ObjectMeta& meta);

void DecodeGatewayClass(const Node& root, GatewayClass& out);
void DecodeGateway(const Node& root, Gateway& out);
void DecodeListenerSet(const Node& root, ListenerSet& out);
void DecodeReferenceGrant(const Node& root, ReferenceGrant& out);
void DecodeHTTPRoute(const Node& root, HTTPRoute& out);
void DecodeTCPRoute(const Node& root, TCPRoute& out);
void DecodeUDPRoute(const Node& root, UDPRoute& out);
void DecodeTLSRoute(const Node& root, TLSRoute& out);
void DecodeGRPCRoute(const Node& root, GRPCRoute& out);
void DecodeService(const Node& root, Service& out);
void DecodeEndpointSlice(const Node& root, EndpointSlice& out);
void DecodeSecret(const Node& root, Secret& out);
void DecodeBackendTLSPolicy(const Node& root, BackendTLSPolicy& out);  // decode_policy.cc
void DecodeConfigMap(const Node& root, ConfigMap& out);

// Shared pieces.
// spec.hostnames of HTTPRoute, GRPCRoute and TLSRoute.
std::vector<std::string> DecodeHostnames(const Node& spec);
// The type of a header or query parameter match (Exact by default).
StringMatchType DecodeStringMatchType(const Node& node);
// One header match of an HTTPRoute or GRPCRoute match; a name already in `seen` (lowercased
// first with `fold_case`) is refused as a duplicate.
HTTPHeaderMatch DecodeHeaderMatch(const Node& h, std::set<std::string>& seen, bool fold_case);
// Refuses two rules of one route with the same name.
void CheckUniqueRuleNames(const Node& spec, const std::vector<std::optional<std::string>>& names);
// Refuses more than 128 matches across a route's rules (the CRD's CEL rule).
void CheckTotalMatches(const Node& spec, size_t total_matches);
LabelSelector DecodeLabelSelector(const Node& node);
std::vector<ParentReference> DecodeParentRefs(const Node& spec);
// A BackendObjectReference (group "" and kind Service by default; port required for a
// Service). With `weighted`, also the weight (default 1).
BackendRef DecodeBackendRef(const Node& node, bool weighted);
// The filters of an HTTPRoute rule or backendRef (key "filters" of `owner`), with the
// per-list rules (one of each core filter, not RequestRedirect and URLRewrite together).
// With `grpc`, only GRPCRoute's filter types are accepted.
std::vector<HTTPRouteFilter> DecodeFilters(const Node& owner, bool grpc = false);
// Whether a RequestRedirect or URLRewrite among `filters` uses ReplacePrefixMatch.
bool UsesReplacePrefixMatch(const std::vector<HTTPRouteFilter>& filters);
// A rule's sessionPersistence (HTTPRoute and GRPCRoute), with the CRD's rules and defaults.
SessionPersistence DecodeSessionPersistence(const Node& node);
// A SecretObjectReference (group "" and kind Secret by default).
ObjectReference DecodeSecretRef(const Node& node);

}  // namespace xgate::model
