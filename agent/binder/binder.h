// Binds routes to Gateway listeners and resolves references, computing every status
// condition exactly as the Gateway API spec defines it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "agent/model/objects.h"

namespace xgate::binder {

using model::Store;

struct Statuses {
  std::map<Store::Key, model::GatewayClassStatus> gateway_classes;  // only ours
  std::map<Store::Key, model::GatewayStatus> gateways;              // only our classes'
  // Parents that are ours. Shared with the bind memo: a route bound as it was last time keeps
  // the very status object it had.
  std::map<model::ObjectKey, std::shared_ptr<const model::RouteStatus>> routes;
  // BackendTLSPolicies with an ancestor of ours (a Gateway routing to their Service).
  std::map<model::ObjectKey, model::PolicyStatus> policies;
  // ListenerSets whose parentRef is a Gateway of ours.
  std::map<Store::Key, model::ListenerSetStatus> listener_sets;
};

struct ResolvedEndpoint {
  std::string address;  // IPv4 or IPv6 literal
  int port = 0;         // from the EndpointSlice port matching the Service port's name
  bool ready = true;
  std::string node_name;  // the EndpointSlice's nodeName, "" when unset
};

// One backendRef of a rule, resolved through its Service and EndpointSlices.
struct ResolvedBackend {
  std::string ns;
  std::string name;  // the Service (or the kind's name for invalid refs)
  int service_port = 0;
  std::string protocol;      // TCP, UDP
  std::string app_protocol;  // the Service port's appProtocol ("kubernetes.io/h2c"), if any
  int weight = 1;
  std::vector<ResolvedEndpoint> endpoints;                       // ready ones only
  const std::vector<model::HTTPRouteFilter>* filters = nullptr;  // per-backend (HTTP)
  // Empty when the ref is valid; else the ResolvedRefs reason (BackendNotFound,
  // RefNotPermitted, InvalidKind, UnsupportedProtocol): requests that land on it get 500.
  std::string invalid_reason;
  std::string ClusterName() const;  // "ns/name:port"
};

// The backends of one route, resolved once and shared by every listener it attaches to
// (and by the next bind, while nothing they were resolved from changes).
struct RouteBackends {
  std::vector<std::vector<ResolvedBackend>> rule_backends;  // per rule, per backendRef
  // Mirror targets per rule and filter index, resolved like backends.
  std::map<std::pair<size_t, size_t>, ResolvedBackend> mirrors;
  // Mirror targets of a backendRef's own filters, per (rule, backendRef, filter index).
  std::map<std::tuple<size_t, size_t, size_t>, ResolvedBackend> backend_mirrors;
  std::string invalid_reason;  // first unresolved reference, "" if all resolve
  std::string invalid_message;
};

// A list of hostnames that binds share while it stays the same: copying it copies a pointer.
class SharedHostnames {
 public:
  SharedHostnames() = default;
  SharedHostnames(std::vector<std::string> names)
      : names_(names.empty() ? nullptr
                             : std::make_shared<const std::vector<std::string>>(std::move(names))) {
  }

  const std::vector<std::string>& get() const { return names_ ? *names_ : Empty(); }
  operator const std::vector<std::string>&() const { return get(); }
  auto begin() const { return get().begin(); }
  auto end() const { return get().end(); }
  size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const std::string& operator[](size_t i) const { return get()[i]; }
  bool operator==(const std::vector<std::string>& o) const { return get() == o; }
  bool operator==(const SharedHostnames& o) const { return get() == o.get(); }

 private:
  static const std::vector<std::string>& Empty() {
    static const std::vector<std::string> kEmpty;
    return kEmpty;
  }
  std::shared_ptr<const std::vector<std::string>> names_;
};

// A route attached to one listener.
struct BoundRoute {
  model::ObjectKey key;
  const model::Object* object = nullptr;  // HTTPRoute, TCPRoute, UDPRoute or TLSRoute
  // The route's hostnames intersected with the listener's (empty: matches any host the
  // listener accepts).
  SharedHostnames hostnames;
  std::shared_ptr<const RouteBackends> backends;
};

// A Gateway's frontend client certificate validation as it applies to one HTTPS listener.
struct ClientValidation {
  std::string ca_pem;              // the valid caCertificateRefs' ca.crt, concatenated
  bool insecure_fallback = false;  // AllowInsecureFallback: a missing or bad cert is let in
};

struct BoundListener {
  Store::Key gateway;
  size_t index = 0;  // into Gateway::listeners, or ListenerSet::listeners
  // Set for an entry of a ListenerSet attached to `gateway`: that ListenerSet.
  std::optional<Store::Key> listener_set;
  const model::Listener* listener = nullptr;
  std::vector<std::string> addresses;                 // the Gateway's addresses (or the node's)
  std::vector<const model::Secret*> certificates;     // resolved certificateRefs (TLS Terminate)
  bool programmed = false;                            // listener accepted and refs resolved
  std::optional<ClientValidation> client_validation;  // spec.tls.frontend (HTTPS only)
  // The Gateway's spec.tls.backend.clientCertificateRef, presented to every TLS backend
  // (BackendTLSPolicy) its routes reach: unset when it names none; nullptr when it does not
  // resolve, and then those backends get no cluster (500), never a connection without it.
  std::optional<const model::Secret*> backend_client_certificate;
  std::vector<BoundRoute> routes;
};

// The listener's name, unique among the listeners of its Gateway: a Gateway listener's own
// name, "<namespace>/<name>/<entry>" for an entry of a ListenerSet (a listener name has no
// '/'). What the data plane, explain and the summary call the listener.
std::string ListenerId(const BoundListener& listener);

// BindOptions::max_gateway_listeners by default: above the 5,000 ListenerSets of one Gateway
// the README's scale check binds.
inline constexpr size_t kDefaultMaxGatewayListeners = 10000;

struct BindOptions {
  // Addresses of the interfaces the agent is attached to: what a Gateway without
  // spec.addresses serves on.
  std::vector<std::string> node_addresses;
  std::string now;  // RFC 3339, the lastTransitionTime of new conditions
  // (address, port) pairs the proxy reported it cannot listen on, and why: an HTTP, HTTPS or
  // TLS listener serving one is Accepted False (PortUnavailable) and Programmed False
  // (Pending) but stays in the data plane, where the proxy keeps retrying.
  std::map<std::pair<std::string, int>, std::string> unavailable_ports;
  // The statuses last applied: a route's condition whose status is as it was there keeps its
  // lastTransitionTime (status::CarryTransitionTimes does the other kinds).
  const Statuses* previous = nullptr;
  // The longest merged listener list of a Gateway (its listeners, then its ListenerSets'
  // entries in the spec's order): a ListenerSet entry beyond it is Accepted False
  // TooManyListeners and not served (xgate-agent --max-gateway-listeners).
  size_t max_gateway_listeners = kDefaultMaxGatewayListeners;
};

// Keeps the lastTransitionTime of each condition of `next` whose type and status are as in
// `previous`, as the API server's SetStatusCondition does.
void CarryTransitionTimes(const std::vector<model::Condition>& previous,
                          std::vector<model::Condition>& next);
// The same for each parent of a route present in both (the same parentRef).
void CarryTransitionTimes(const model::RouteStatus& previous, model::RouteStatus& next);

// TLS to a Service port, from the BackendTLSPolicy that won it (backend_tls.h).
struct BackendTLS {
  model::ObjectKey policy;
  // False when the policy is not accepted (no valid CA certificate, unknown well-known CA
  // set): connections to the backend must fail, the client gets a 5xx.
  bool valid = true;
  std::string ca_pem;       // the valid caCertificateRefs' ca.crt, concatenated
  bool system_cas = false;  // wellKnownCACertificates: System
  std::string hostname;     // SNI; verified unless subject_alt_names are given
  std::vector<model::SubjectAltName> subject_alt_names;
};

struct BindResult {
  Statuses statuses;
  // Routes with a parent whose conditions are not all positive (AllAccepted reads this
  // rather than every route's status).
  size_t routes_not_accepted = 0;
  std::vector<BoundListener> listeners;  // every listener of every Gateway of ours
  // Per cluster name ("ns/name:port") of a routed Service port that a BackendTLSPolicy
  // targets.
  std::map<std::string, BackendTLS> backend_tls;
};

// What Bind keeps from one call to the next so that it binds again only the routes whose
// inputs changed: a route object, the Services and EndpointSlices its backends were resolved
// from, and every Gateway, GatewayClass, Namespace, ReferenceGrant and Secret the same as
// last time (the same shared objects of the store) give the same result.
class BindMemo {
 public:
  BindMemo();
  ~BindMemo();
  BindMemo(const BindMemo&) = delete;
  BindMemo& operator=(const BindMemo&) = delete;
  struct State;
  std::unique_ptr<State> state;
  size_t reused = 0;  // routes taken from the memo by the last Bind
};

// The result points into `store` (objects, listeners, Secrets, filters): keep the Store
// alive and unchanged while the BindResult is used. With a memo, the result is the same as
// without (conditions included), computed only for what changed since the memo's last Bind.
BindResult Bind(const Store& store, const BindOptions& options, BindMemo* memo = nullptr);

// True when every object of ours in `result` is accepted (xgatectl check's exit status).
bool AllAccepted(const BindResult& result);

}  // namespace xgate::binder
