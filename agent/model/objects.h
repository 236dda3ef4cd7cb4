// Typed Gateway API and core Kubernetes objects, as the agent sees them after loading.
// Every object is in its v1 shape: older API versions (v1beta1, v1alpha2, and the 2021
// networking.x-k8s.io/v1alpha1) are converted on load (loader.h).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/object_map.h"

namespace xgate::model {

inline constexpr char kGatewayGroup[] = "gateway.networking.k8s.io";
inline constexpr char kControllerName[] = "xgate.dev/node-agent";

enum class Kind {
  kGatewayClass,
  kGateway,
  kHTTPRoute,
  kTCPRoute,
  kUDPRoute,
  kTLSRoute,
  kReferenceGrant,
  kNamespace,
  kService,
  kEndpointSlice,
  kSecret,
  kGRPCRoute,
  kBackendTLSPolicy,
  kConfigMap,
  kListenerSet,
};

// "HTTPRoute", "Gateway", ... as Kubernetes spells the kind.
const char* KindName(Kind kind);
// The API group of a kind: "gateway.networking.k8s.io", "" (core) or "discovery.k8s.io".
const char* KindGroup(Kind kind);
bool IsRouteKind(Kind kind);

// Identifies an object: kind, namespace ("" for cluster-scoped kinds) and name.
struct ObjectKey {
  Kind kind = Kind::kGatewayClass;
  std::string ns;
  std::string name;
  auto operator<=>(const ObjectKey&) const = default;
  std::string ToString() const;  // "HTTPRoute foo/foo-route"
};

// Where a document came from, for error messages and `xgatectl explain`.
struct SourcePos {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
};

struct ObjectMeta {
  std::string name;
  std::string ns;  // metadata.namespace, defaulted to "default" for namespaced kinds
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // As the API server keeps it: 1 when first applied, +1 each time spec changes
  // (standalone mode computes it across reloads, see Store).
  int64_t generation = 1;
  // RFC 3339 metadata.creationTimestamp when the manifest has one, else when first seen.
  std::string creation_timestamp;
  // metadata.uid as the API server gives it ("" in a manifest without one).
  std::string uid;
  // Monotonic order of first appearance: the tie-breaker "oldest route" when two
  // creation timestamps are equal.
  int64_t creation_index = 0;
  SourcePos source;
};

struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

// ---------------------------------------------------------------- references

struct ParentReference {
  std::string group = kGatewayGroup;
  std::string kind = "Gateway";
  std::optional<std::string> ns;  // defaults to the route's namespace
  std::string name;
  std::optional<std::string> section_name;
  std::optional<int> port;
  bool operator==(const ParentReference&) const = default;
};

// A ListenerSet's spec.parentRef: a Gateway (the only kind the CRD's defaults give).
struct ParentGatewayReference {
  std::string group = kGatewayGroup;
  std::string kind = "Gateway";
  std::optional<std::string> ns;  // defaults to the ListenerSet's namespace
  std::string name;
};

// BackendObjectReference / SecretObjectReference / ObjectReference.
struct ObjectReference {
  std::string group;  // "" is core
  std::string kind;   // Service, Secret, ...
  std::string name;
  std::optional<std::string> ns;
  std::optional<int> port;  // backends only
};

// ---------------------------------------------------------------- HTTPRoute

enum class PathMatchType { kExact, kPathPrefix, kRegularExpression };
enum class StringMatchType { kExact, kRegularExpression };

struct HTTPPathMatch {
  PathMatchType type = PathMatchType::kPathPrefix;
  std::string value = "/";
};

struct HTTPHeaderMatch {
  StringMatchType type = StringMatchType::kExact;
  std::string name;
  std::string value;
};

struct HTTPQueryParamMatch {
  StringMatchType type = StringMatchType::kExact;
  std::string name;
  std::string value;
};

struct HTTPRouteMatch {
  HTTPPathMatch path;  // defaulted as the CRD does: PathPrefix "/"
  std::vector<HTTPHeaderMatch> headers;
  std::vector<HTTPQueryParamMatch> query_params;
  std::optional<std::string> method;
};

struct HTTPHeader {
  std::string name;
  std::string value;
};

struct HTTPHeaderModifier {
  std::vector<HTTPHeader> set;
  std::vector<HTTPHeader> add;
  std::vector<std::string> remove;
};

enum class PathModifierType { kReplaceFullPath, kReplacePrefixMatch };

struct HTTPPathModifier {
  PathModifierType type = PathModifierType::kReplaceFullPath;
  std::string value;  // replaceFullPath or replacePrefixMatch
};

struct HTTPRequestRedirect {
  std::optional<std::string> scheme;
  std::optional<std::string> hostname;
  std::optional<HTTPPathModifier> path;
  std::optional<int> port;
  int status_code = 302;
};

struct HTTPURLRewrite {
  std::optional<std::string> hostname;
  std::optional<HTTPPathModifier> path;
};

struct HTTPRequestMirror {
  ObjectReference backend_ref;  // kind defaults to Service
  // Share of requests mirrored, as numerator/denominator (percent N is N/100).
  // Absent: every request.
  std::optional<int> numerator;
  int denominator = 100;
};

// CORS (Gateway API HTTPCORSFilter): origins as "scheme://host[:port]", "*" or with a
// leading "*." host label; methods and headers as listed, or "*" alone.
struct HTTPCORSFilter {
  std::vector<std::string> allow_origins;
  bool allow_credentials = false;
  std::vector<std::string> allow_methods;
  std::vector<std::string> allow_headers;
  std::vector<std::string> expose_headers;
  int max_age_seconds = 5;
};

enum class HTTPFilterType {
  kRequestHeaderModifier,
  kResponseHeaderModifier,
  kRequestRedirect,
  kURLRewrite,
  kRequestMirror,
  kExtensionRef,
  kCORS,
};

struct HTTPRouteFilter {
  HTTPFilterType type = HTTPFilterType::kRequestHeaderModifier;
  HTTPHeaderModifier request_header_modifier;
  HTTPHeaderModifier response_header_modifier;
  HTTPRequestRedirect request_redirect;
  HTTPURLRewrite url_rewrite;
  HTTPRequestMirror request_mirror;
  ObjectReference extension_ref;
  HTTPCORSFilter cors;
};

struct BackendRef {
  ObjectReference ref;  // group "" and kind "Service" by default
  int weight = 1;
  std::vector<HTTPRouteFilter> filters;  // HTTPRoute and GRPCRoute only
};

struct HTTPRouteTimeouts {
  std::optional<int64_t> request_ms;  // 0 disables
  std::optional<int64_t> backend_request_ms;
};

// HTTPRouteRetry (experimental channel): unset fields are the implementation's choice.
struct HTTPRouteRetry {
  std::vector<int> codes;           // 400..599
  std::optional<int64_t> attempts;  // retries after the first try
  std::optional<int64_t> backoff_ms;
};

// SessionPersistence (GEP-1619, experimental channel) of an HTTPRoute or GRPCRoute rule, as
// v1.6 shapes it (idleTimeout is the v1.0-v1.5 field, still accepted) or as Gateway API's main
// branch does (cookie: {name, path, lifetimeType}, header: {name}).
struct SessionPersistence {
  enum class Type { kCookie, kHeader };
  Type type = Type::kCookie;
  std::optional<std::string> session_name;  // the cookie's or header's name
  std::optional<int64_t> absolute_timeout_ms;
  std::optional<int64_t> idle_timeout_ms;
  bool permanent_cookie = false;           // cookieConfig.lifetimeType Permanent: Max-Age is sent
  std::optional<std::string> cookie_path;  // cookie.path: the cookie's Path ("/" without)
};

struct HTTPRouteRule {
  std::optional<std::string> name;
  std::vector<HTTPRouteMatch> matches;  // defaulted to one PathPrefix "/" match when empty
  std::vector<HTTPRouteFilter> filters;
  std::vector<BackendRef> backend_refs;
  HTTPRouteTimeouts timeouts;
  std::optional<HTTPRouteRetry> retry;
  std::optional<SessionPersistence> session_persistence;
};

// ---------------------------------------------------------------- status

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339
};

struct RouteParentStatus {
  ParentReference parent_ref;
  std::string controller_name = kControllerName;
  std::vector<Condition> conditions;
};

struct RouteStatus {
  std::vector<RouteParentStatus> parents;
};

struct RouteGroupKind {
  std::string group = kGatewayGroup;
  std::string kind;
};

struct ListenerStatus {
  std::string name;
  std::vector<RouteGroupKind> supported_kinds;
  int attached_routes = 0;
  std::vector<Condition> conditions;
};

struct GatewayStatusAddress {
  std::string type = "IPAddress";
  std::string value;
};

struct GatewayStatus {
  std::vector<GatewayStatusAddress> addresses;
  std::vector<Condition> conditions;
  std::vector<ListenerStatus> listeners;
  // status.attachedListenerSets: the ListenerSets accepted on this Gateway. Unset (and not
  // rendered) for a Gateway that allows none and has none attached.
  std::optional<int> attached_listener_sets;
};

// A ListenerSet's status: its conditions and one entry per spec.listeners entry (the
// Gateway listener shape).
struct ListenerSetStatus {
  std::vector<Condition> conditions;
  std::vector<ListenerStatus> listeners;
};

struct GatewayClassStatus {
  std::vector<Condition> conditions;
};

// ---------------------------------------------------------------- objects

// An object's JSON kept as compact text: a parsed tree costs several times its text (10,000
// HTTPRoutes with their Services and EndpointSlices: ~60 MB of trees). Read by parsing it;
// compared as text (a tree's dump is canonical: keys sorted, compact).
class RawJson {
 public:
  RawJson() = default;
  RawJson(const nlohmann::json& value);  // NOLINT: implicit, as the tree it stands for

  nlohmann::json Parse() const {
    return text_.empty() ? nlohmann::json() : nlohmann::json::parse(text_);
  }
  std::string dump() const { return text_.empty() ? "null" : text_; }
  bool is_object() const { return !text_.empty() && text_.front() == '{'; }
  bool contains(const std::string& key) const { return Parse().contains(key); }
  // A member, parsed (null when absent), so that raw["spec"]["rules"][0] reads as on a tree.
  // A copy: writing through it changes nothing (assign a tree to the RawJson instead).
  nlohmann::json operator[](const std::string& key) const {
    nlohmann::json tree = Parse();
    return tree.is_object() && tree.contains(key) ? std::move(tree[key]) : nlohmann::json();
  }
  bool operator==(const RawJson& o) const = default;
  friend std::ostream& operator<<(std::ostream& out, const RawJson& raw) {
    return out << raw.dump();
  }

 private:
  std::string text_;
};

// What every typed object carries besides its spec.
struct Object {
  std::string api_version;  // as written in the manifest (before conversion)
  ObjectMeta meta;
  // The object as Kubernetes would store it (v1 shape, after conversion and defaulting),
  // without status: what `xgatectl check -o json` prints, with status added.
  RawJson raw;
  // Which decode made this object (unique per process; copies keep it): two loads whose
  // objects have the same decode_id decoded the same unchanged document.
  uint64_t decode_id = 0;
  // v1alpha1 routes only (networking.x-k8s.io, converted on load): the route had no
  // parentRefs, so it attaches by labels to every listener whose route_selector matches its
  // labels and whose allowedRoutes admits its namespace, as v1alpha1 did.
  bool v1alpha1_selector_binding = false;
  // v1alpha1 routes only: spec.gateways.allow was SameNamespace, so only Gateways in the
  // route's own namespace may select it. (v1alpha1 defaulted this field to SameNamespace; a
  // route that omits it is taken as All, which is what the 2021 examples expect.)
  bool v1alpha1_same_namespace_only = false;
};

struct GatewayClass : Object {
  std::string controller_name;
  std::string description;
};

struct AllowedRoutes {
  enum class From { kAll, kSame, kSelector };
  From from = From::kSame;
  LabelSelector selector;
  std::vector<RouteGroupKind> kinds;  // empty: the protocol's default kinds
};

struct GatewayTLSConfig {
  enum class Mode { kTerminate, kPassthrough };
  Mode mode = Mode::kTerminate;
  std::vector<ObjectReference> certificate_refs;  // group "", kind Secret by default
  std::map<std::string, std::string> options;
};

struct Listener {
  std::string name;
  std::optional<std::string> hostname;
  int port = 0;
  std::string protocol;  // HTTP, HTTPS, TLS, TCP, UDP (others are kept and refused by the binder)
  std::optional<GatewayTLSConfig> tls;
  AllowedRoutes allowed_routes;
  // v1alpha1 only: routes must carry these labels (listener.routes.selector), in addition
  // to being admitted by allowed_routes. Routes marked v1alpha1_selector_binding attach to
  // this listener when it matches their labels.
  std::optional<LabelSelector> route_selector;
};

struct GatewayAddress {
  std::string type = "IPAddress";
  std::string value;
};

// spec.tls.frontend: client certificate validation of HTTPS listeners (mTLS).
struct FrontendTLSValidation {
  enum class Mode { kAllowValidOnly, kAllowInsecureFallback };
  std::vector<ObjectReference> ca_certificate_refs;  // ConfigMaps with ca.crt (core support)
  Mode mode = Mode::kAllowValidOnly;
};

struct FrontendTLSConfig {
  std::optional<FrontendTLSValidation> default_validation;       // default.validation
  std::map<int, std::optional<FrontendTLSValidation>> per_port;  // perPort[].tls.validation
};

struct GatewayTLS {
  std::optional<FrontendTLSConfig> frontend;
  std::optional<ObjectReference> backend_client_certificate;  // backend.clientCertificateRef
};

// spec.allowedListeners.namespaces: which namespaces' ListenerSets may attach (None by
// default: the Gateway's own listeners only).
struct AllowedListeners {
  enum class From { kNone, kSame, kSelector, kAll };
  From from = From::kNone;
  LabelSelector selector;  // from Selector: the ListenerSet's namespace labels
};

struct Gateway : Object {
  std::string gateway_class_name;
  std::vector<Listener> listeners;
  std::vector<GatewayAddress> addresses;
  GatewayTLS tls;  // spec.tls
  AllowedListeners allowed_listeners;
};

// gateway.networking.k8s.io/v1 ListenerSet: listeners (ListenerEntry, the Listener shape)
// added to a parent Gateway that allows it (spec.allowedListeners).
struct ListenerSet : Object {
  ParentGatewayReference parent_ref;
  std::vector<Listener> listeners;
};

struct HTTPRoute : Object {
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<HTTPRouteRule> rules;
};

// ---------------------------------------------------------------- GRPCRoute

enum class GRPCMethodMatchType { kExact, kRegularExpression };

// A gRPC service/method matcher; an empty service or method matches any.
struct GRPCMethodMatch {
  GRPCMethodMatchType type = GRPCMethodMatchType::kExact;
  std::string service;
  std::string method;
};

struct GRPCRouteMatch {
  std::optional<GRPCMethodMatch> method;  // unset: every service and method
  std::vector<HTTPHeaderMatch> headers;   // later entries naming an earlier header dropped
};

// Filters are HTTPRoute's types restricted to RequestHeaderModifier, ResponseHeaderModifier,
// RequestMirror and ExtensionRef (the CRD's enum).
struct GRPCRouteRule {
  std::optional<std::string> name;
  std::vector<GRPCRouteMatch> matches;  // empty: every gRPC request
  std::vector<HTTPRouteFilter> filters;
  std::vector<BackendRef> backend_refs;
  std::optional<SessionPersistence> session_persistence;
};

struct GRPCRoute : Object {
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<GRPCRouteRule> rules;
};

// TCPRoute, UDPRoute and TLSRoute rules: only backendRefs.
struct L4RouteRule {
  std::optional<std::string> name;
  std::vector<BackendRef> backend_refs;
};

struct TCPRoute : Object {
  std::vector<ParentReference> parent_refs;
  std::vector<L4RouteRule> rules;
};

struct UDPRoute : Object {
  std::vector<ParentReference> parent_refs;
  std::vector<L4RouteRule> rules;
};

struct TLSRoute : Object {
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<L4RouteRule> rules;
};

struct ReferenceGrantFrom {
  std::string group;
  std::string kind;
  std::string ns;
};

struct ReferenceGrantTo {
  std::string group;
  std::string kind;
  std::optional<std::string> name;
};

struct ReferenceGrant : Object {
  std::vector<ReferenceGrantFrom> from;
  std::vector<ReferenceGrantTo> to;
};

struct Namespace : Object {};

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";
  int port = 0;
  // targetPort: a number, or the name of a container port; unset means `port`.
  std::optional<int> target_port;
  std::optional<std::string> target_port_name;
  std::optional<std::string> app_protocol;
};

struct Service : Object {
  std::string type = "ClusterIP";
  std::vector<ServicePort> ports;
};

struct EndpointPort {
  std::string name;
  std::string protocol = "TCP";
  std::optional<int> port;
};

struct Endpoint {
  std::vector<std::string> addresses;
  bool ready = true;  // conditions.ready; unset counts as ready, as kube-proxy does
  bool terminating = false;
  std::optional<std::string> node_name;
};

struct EndpointSlice : Object {
  std::string address_type = "IPv4";  // IPv4, IPv6, FQDN
  std::string service_name;           // label kubernetes.io/service-name
  std::vector<EndpointPort> ports;
  std::vector<Endpoint> endpoints;
};

struct Secret : Object {
  std::string type = "Opaque";
  std::map<std::string, std::string> data;  // decoded bytes (base64 `data` and `stringData`)
};

// ---------------------------------------------------------------- BackendTLSPolicy

// LocalPolicyTargetReferenceWithSectionName: a Service (group "") in the policy's namespace,
// optionally one of its ports by name.
struct PolicyTargetReference {
  std::string group;
  std::string kind;
  std::string name;
  std::optional<std::string> section_name;
};

struct SubjectAltName {
  enum class Type { kHostname, kURI };
  Type type = Type::kHostname;
  std::string value;  // the hostname or the URI
};

struct BackendTLSPolicyValidation {
  std::vector<ObjectReference> ca_certificate_refs;       // LocalObjectReference: no namespace
  std::optional<std::string> well_known_ca_certificates;  // "System" (others: not accepted)
  std::string hostname;  // SNI, and the name verified unless subject_alt_names are given
  std::vector<SubjectAltName> subject_alt_names;
};

struct BackendTLSPolicy : Object {
  std::vector<PolicyTargetReference> target_refs;
  BackendTLSPolicyValidation validation;
  std::map<std::string, std::string> options;
};

struct ConfigMap : Object {
  std::map<std::string, std::string> data;  // `data` only (binaryData is not read)
};

// PolicyAncestorStatus: the same shape as a route's parent status under other names.
struct PolicyStatus {
  std::vector<RouteParentStatus> ancestors;  // parent_ref is the ancestorRef
};

// ---------------------------------------------------------------- the store

// Every object of one load, keyed by namespace/name within each kind. std::map keeps the
// iteration order deterministic, so a snapshot compiled twice from the same input is equal.
struct Store {
  using Key = std::pair<std::string, std::string>;  // namespace ("" if cluster-scoped), name
  ObjectMap<Key, GatewayClass> gateway_classes;
  ObjectMap<Key, Gateway> gateways;
  ObjectMap<Key, HTTPRoute> http_routes;
  ObjectMap<Key, TCPRoute> tcp_routes;
  ObjectMap<Key, UDPRoute> udp_routes;
  ObjectMap<Key, TLSRoute> tls_routes;
  ObjectMap<Key, ReferenceGrant> reference_grants;
  ObjectMap<Key, Namespace> namespaces;
  ObjectMap<Key, Service> services;
  ObjectMap<Key, EndpointSlice> endpoint_slices;
  ObjectMap<Key, Secret> secrets;
  ObjectMap<Key, GRPCRoute> grpc_routes;
  ObjectMap<Key, BackendTLSPolicy> backend_tls_policies;
  ObjectMap<Key, ConfigMap> config_maps;
  ObjectMap<Key, ListenerSet> listener_sets;

  // The generic view of an object, or nullptr.
  const Object* Find(const ObjectKey& key) const;
  // Labels of a namespace; a namespace that is referred to but not given exists with
  // no labels except kubernetes.io/metadata.name, as a cluster would add.
  std::map<std::string, std::string> NamespaceLabels(const std::string& ns) const;
  size_t Size() const;
};

// Calls f(a's map, b's map) for each kind's map of two stores (either may be const).
template <typename A, typename B, typename F>
void ForEachKindMap(A& a, B& b, F&& f) {
  f(a.gateway_classes, b.gateway_classes);
  f(a.gateways, b.gateways);
  f(a.http_routes, b.http_routes);
  f(a.tcp_routes, b.tcp_routes);
  f(a.udp_routes, b.udp_routes);
  f(a.tls_routes, b.tls_routes);
  f(a.reference_grants, b.reference_grants);
  f(a.namespaces, b.namespaces);
  f(a.services, b.services);
  f(a.endpoint_slices, b.endpoint_slices);
  f(a.secrets, b.secrets);
  f(a.grpc_routes, b.grpc_routes);
  f(a.backend_tls_policies, b.backend_tls_policies);
  f(a.config_maps, b.config_maps);
  f(a.listener_sets, b.listener_sets);
}

}  // namespace xgate::model
