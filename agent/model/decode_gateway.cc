#include <arpa/inet.h>

#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"

namespace xgate::model {
namespace {

void CheckControllerName(const std::string& path, const std::string& value) {
  size_t slash = value.find('/');
  if (slash == std::string::npos || slash + 1 == value.size()) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value,
                                         "\": must be a domain-prefixed path such as "
                                         "\"example.net/gateway-controller\""));
  }
  CheckDnsSubdomain(path, value.substr(0, slash));
  CheckLength(path, value, 253);
}

void CheckObjectName(const Node& node, const std::string& key, const std::string& value) {
  CheckLength(node.PathOf(key), value, 253);
}

GatewayTLSConfig DecodeListenerTLS(const Node& tls) {
  GatewayTLSConfig out;
  std::string mode = tls.StrOr("mode", "Terminate");
  CheckEnum(tls.PathOf("mode"), mode, {"Terminate", "Passthrough"});
  out.mode = mode == "Terminate" ? GatewayTLSConfig::Mode::kTerminate
                                 : GatewayTLSConfig::Mode::kPassthrough;
  for (const Node& ref : tls.Items("certificateRefs", 64)) {
    out.certificate_refs.push_back(DecodeSecretRef(ref));
  }
  out.options = tls.StrMap("options");
  if (out.options.size() > 16) tls.FailAt("options", "Too many: must have at most 16 items");
  if (out.mode == GatewayTLSConfig::Mode::kTerminate && out.certificate_refs.empty() &&
      out.options.empty()) {
    tls.FailAt("certificateRefs",
               "Required value: certificateRefs or options must be specified when mode is "
               "Terminate");
  }
  return out;
}

AllowedRoutes DecodeAllowedRoutes(const Node& listener) {
  AllowedRoutes out;
  Node ar = listener.ChildOrEmpty("allowedRoutes");
  Node ns = ar.ChildOrEmpty("namespaces");
  std::string from = ns.StrOr("from", "Same");
  CheckEnum(ns.PathOf("from"), from, {"All", "Selector", "Same"});
  out.from = from == "All"        ? AllowedRoutes::From::kAll
             : from == "Selector" ? AllowedRoutes::From::kSelector
                                  : AllowedRoutes::From::kSame;
  if (auto sel = ns.OptChild("selector")) out.selector = DecodeLabelSelector(*sel);
  if (out.from == AllowedRoutes::From::kSelector && !ns.Has("selector")) {
    ns.FailAt("selector", "Required value: must be specified when from is Selector");
  }
  for (const Node& k : ar.Items("kinds", 8)) {
    RouteGroupKind rgk;
    rgk.group = k.StrOr("group", kGatewayGroup);
    CheckGroup(k.PathOf("group"), rgk.group);
    rgk.kind = k.Str("kind");
    CheckKindName(k.PathOf("kind"), rgk.kind);
    out.kinds.push_back(std::move(rgk));
  }
  return out;
}

Listener DecodeListener(const Node& l) {
  Listener out;
  out.name = l.Str("name");
  CheckSectionName(l.PathOf("name"), out.name);
  out.hostname = l.OptStr("hostname");
  if (out.hostname) CheckHostname(l.PathOf("hostname"), *out.hostname);
  out.port = static_cast<int>(l.Int("port", 1, 65535));
  out.protocol = l.Str("protocol");
  CheckLength(l.PathOf("protocol"), out.protocol, 255);
  bool simple =
      out.protocol.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == std::string::npos &&
      out.protocol.front() != '-' && out.protocol.back() != '-';
  bool domain = out.protocol.find('/') != std::string::npos;
  if (!simple && !domain) {
    l.FailAt("protocol", absl::StrCat("Invalid value: \"", out.protocol,
                                      "\": must be a protocol name such as HTTPS or a "
                                      "domain-prefixed name"));
  }
  const std::string& p = out.protocol;
  if (auto tls = l.OptChild("tls")) {
    if (p == "HTTP" || p == "TCP" || p == "UDP") {
      l.FailAt("tls", "Forbidden: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
    }
    out.tls = DecodeListenerTLS(*tls);
    if (p == "HTTPS" && out.tls->mode != GatewayTLSConfig::Mode::kTerminate) {
      tls->FailAt("mode", "Invalid value: tls mode must be Terminate for protocol HTTPS");
    }
  } else if (p == "HTTPS") {
    l.FailAt("tls", "Required value: tls must be specified for protocols ['HTTPS']");
  }
  if (out.hostname && (p == "TCP" || p == "UDP")) {
    l.FailAt("hostname", "Forbidden: hostname must not be specified for protocols ['TCP', 'UDP']");
  }
  out.allowed_routes = DecodeAllowedRoutes(l);
  if (auto sel = l.OptChild("x-v1alpha1RouteSelector")) {
    out.route_selector = DecodeLabelSelector(*sel);
  }
  return out;
}

// spec.listeners of a Gateway or a ListenerSet (1 to 64): names unique, and each (port,
// protocol, hostname) once. With `tls_mode_required` (ListenerSet), a TLS listener must
// say its tls.mode.
std::vector<Listener> DecodeListenerList(const Node& spec, bool tls_mode_required) {
  std::vector<Listener> out;
  std::set<std::string> names;
  std::set<std::tuple<int, std::string, std::string>> combos;
  for (const Node& l : spec.Items("listeners", 64, 1)) {
    if (tls_mode_required && l.Has("protocol") && l.json()["protocol"] == "TLS") {
      std::optional<Node> tls = l.OptChild("tls");
      if (!tls || !tls->Has("mode")) {
        l.FailAt(tls ? "tls.mode" : "tls", "Required value: tls mode must be set for protocol TLS");
      }
    }
    Listener listener = DecodeListener(l);
    if (!names.insert(listener.name).second) {
      l.FailAt("name", absl::StrCat("Duplicate value: \"", listener.name,
                                    "\": listener name must be unique within the Gateway"));
    }
    if (!combos.insert({listener.port, listener.protocol, listener.hostname.value_or("")}).second) {
      l.Fail(
          "Invalid value: combination of port, protocol and hostname must be unique for "
          "each listener");
    }
    out.push_back(std::move(listener));
  }
  return out;
}

// spec.allowedListeners (absent: None, and left absent in the JSON as the API server does).
AllowedListeners DecodeAllowedListeners(const Node& spec) {
  AllowedListeners out;
  std::optional<Node> al = spec.OptChild("allowedListeners");
  if (!al) return out;
  Node ns = al->ChildOrEmpty("namespaces");
  std::string from = ns.StrOr("from", "None");
  CheckEnum(ns.PathOf("from"), from, {"All", "Selector", "Same", "None"});
  out.from = from == "All"        ? AllowedListeners::From::kAll
             : from == "Selector" ? AllowedListeners::From::kSelector
             : from == "Same"     ? AllowedListeners::From::kSame
                                  : AllowedListeners::From::kNone;
  if (auto sel = ns.OptChild("selector")) out.selector = DecodeLabelSelector(*sel);
  return out;
}

// An ObjectReference: group and kind required, or, as a SecretObjectReference, "" and
// Secret by default; namespace optional.
ObjectReference DecodeObjectRef(const Node& node, bool secret_defaults) {
  ObjectReference ref;
  if (!secret_defaults && !node.Has("group")) node.FailAt("group", "Required value");
  ref.group = node.StrOr("group", "");
  CheckGroup(node.PathOf("group"), ref.group);
  ref.kind = secret_defaults ? node.StrOr("kind", "Secret") : node.Str("kind");
  CheckKindName(node.PathOf("kind"), ref.kind);
  ref.name = node.Str("name");
  CheckObjectName(node, "name", ref.name);
  ref.ns = node.OptStr("namespace");
  if (ref.ns) CheckDnsLabel(node.PathOf("namespace"), *ref.ns);
  return ref;
}

// A TLSConfig's optional `validation`.
std::optional<FrontendTLSValidation> DecodeFrontendValidation(const Node& tls_config) {
  std::optional<Node> v = tls_config.OptChild("validation");
  if (!v) return std::nullopt;
  FrontendTLSValidation out;
  for (const Node& ref : v->Items("caCertificateRefs", 16, 1)) {
    out.ca_certificate_refs.push_back(DecodeObjectRef(ref, false));
  }
  std::string mode = v->StrOr("mode", "AllowValidOnly");
  CheckEnum(v->PathOf("mode"), mode, {"AllowValidOnly", "AllowInsecureFallback"});
  out.mode = mode == "AllowValidOnly" ? FrontendTLSValidation::Mode::kAllowValidOnly
                                      : FrontendTLSValidation::Mode::kAllowInsecureFallback;
  return out;
}

GatewayTLS DecodeGatewayTLS(const Node& spec) {
  GatewayTLS out;
  std::optional<Node> tls = spec.OptChild("tls");
  if (!tls) return out;
  if (auto frontend = tls->OptChild("frontend")) {
    FrontendTLSConfig f;
    f.default_validation = DecodeFrontendValidation(frontend->Child("default"));
    for (const Node& pp : frontend->Items("perPort", 64)) {
      int port = static_cast<int>(pp.Int("port", 1, 65535));
      if (!f.per_port.emplace(port, DecodeFrontendValidation(pp.Child("tls"))).second) {
        frontend->FailAt("perPort",
                         "Invalid value: Port for TLS configuration must be unique "
                         "within the Gateway");
      }
    }
    out.frontend = std::move(f);
  }
  if (auto backend = tls->OptChild("backend")) {
    if (auto ref = backend->OptChild("clientCertificateRef")) {
      out.backend_client_certificate = DecodeSecretRef(*ref);
    }
  }
  return out;
}

}  // namespace

ObjectReference DecodeSecretRef(const Node& node) { return DecodeObjectRef(node, true); }

void DecodeGatewayClass(const Node& root, GatewayClass& out) {
  Node spec = root.Child("spec");
  out.controller_name = spec.Str("controllerName");
  CheckControllerName(spec.PathOf("controllerName"), out.controller_name);
  out.description = spec.OptStr("description").value_or("");
  CheckLength(spec.PathOf("description"), out.description, 64);
}

void DecodeGateway(const Node& root, Gateway& out) {
  Node spec = root.Child("spec");
  out.gateway_class_name = spec.Str("gatewayClassName");
  CheckObjectName(spec, "gatewayClassName", out.gateway_class_name);
  out.listeners = DecodeListenerList(spec, /*tls_mode_required=*/false);
  out.allowed_listeners = DecodeAllowedListeners(spec);
  std::set<std::string> ips;
  for (const Node& a : spec.Items("addresses", 16)) {
    GatewayAddress addr;
    addr.type = a.StrOr("type", "IPAddress");
    addr.value = a.Str("value");
    CheckLength(a.PathOf("value"), addr.value, 253);
    if (addr.type == "IPAddress") {
      unsigned char buf[16];
      if (inet_pton(AF_INET, addr.value.c_str(), buf) != 1 &&
          inet_pton(AF_INET6, addr.value.c_str(), buf) != 1) {
        a.FailAt("value",
                 absl::StrCat("Invalid value: \"", addr.value, "\": must be an IP address"));
      }
      if (!ips.insert(addr.value).second) {
        a.FailAt("value", "Duplicate value: IPAddress values must be unique");
      }
    } else if (addr.type == "Hostname") {
      CheckPreciseHostname(a.PathOf("value"), addr.value);
    }
    out.addresses.push_back(std::move(addr));
  }
  out.tls = DecodeGatewayTLS(spec);
}

void DecodeListenerSet(const Node& root, ListenerSet& out) {
  Node spec = root.Child("spec");
  Node parent = spec.Child("parentRef");
  out.parent_ref.group = parent.StrOr("group", kGatewayGroup);
  CheckGroup(parent.PathOf("group"), out.parent_ref.group);
  out.parent_ref.kind = parent.StrOr("kind", "Gateway");
  CheckKindName(parent.PathOf("kind"), out.parent_ref.kind);
  out.parent_ref.name = parent.Str("name");
  CheckObjectName(parent, "name", out.parent_ref.name);
  out.parent_ref.ns = parent.OptStr("namespace");
  if (out.parent_ref.ns) CheckDnsLabel(parent.PathOf("namespace"), *out.parent_ref.ns);
  out.listeners = DecodeListenerList(spec, /*tls_mode_required=*/true);
}

void DecodeReferenceGrant(const Node& root, ReferenceGrant& out) {
  Node spec = root.Child("spec");
  for (const Node& f : spec.Items("from", 16, 1)) {
    ReferenceGrantFrom from;
    from.group = f.OptStr("group").value_or("");
    if (!f.Has("group")) f.FailAt("group", "Required value");
    CheckGroup(f.PathOf("group"), from.group);
    from.kind = f.Str("kind");
    CheckKindName(f.PathOf("kind"), from.kind);
    from.ns = f.Str("namespace");
    CheckDnsLabel(f.PathOf("namespace"), from.ns);
    out.from.push_back(std::move(from));
  }
  for (const Node& t : spec.Items("to", 16, 1)) {
    ReferenceGrantTo to;
    to.group = t.OptStr("group").value_or("");
    if (!t.Has("group")) t.FailAt("group", "Required value");
    CheckGroup(t.PathOf("group"), to.group);
    to.kind = t.Str("kind");
    CheckKindName(t.PathOf("kind"), to.kind);
    to.name = t.OptStr("name");
    if (to.name) CheckObjectName(t, "name", *to.name);
    out.to.push_back(std::move(to));
  }
}

}  // namespace xgate::model
