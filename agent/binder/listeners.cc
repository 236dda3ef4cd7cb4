#include "agent/binder/listeners.h"

#include <arpa/inet.h>

#include <algorithm>
#include <tuple>

#include "agent/binder/age.h"
#include "agent/binder/backend_tls.h"
#include "agent/binder/frontend_tls.h"
#include "agent/binder/hostnames.h"
#include "agent/binder/references.h"

namespace xgate::binder {
namespace {

const std::set<std::string>& SupportedProtocols() {
  static const std::set<std::string> kProtocols = {"HTTP", "HTTPS", "TLS", "TCP", "UDP"};
  return kProtocols;
}

std::string Transport(const std::string& protocol) { return protocol == "UDP" ? "UDP" : "TCP"; }

// The route kinds a listener of this protocol serves. HTTP and HTTPS listeners take
// GRPCRoute as well (the proxy speaks HTTP/2 with prior knowledge on HTTP and through ALPN
// on HTTPS, as the spec asks of GRPCRoute), as Envoy Gateway lists them.
std::vector<std::string> DefaultKinds(const model::Listener& l) {
  if (l.protocol == "HTTP" || l.protocol == "HTTPS") return {"HTTPRoute", "GRPCRoute"};
  if (l.protocol == "TLS") return {"TLSRoute"};
  if (l.protocol == "TCP") return {"TCPRoute"};
  if (l.protocol == "UDP") return {"UDPRoute"};
  return {};
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Listeners of one Gateway that are not distinct (Gateway API "Distinct Listeners"): on one
// port and transport, every listener must have the same protocol (we cannot mix HTTP,
// HTTPS and TLS on one port) and, for HTTP/HTTPS/TLS, a different hostname; TCP and UDP
// listeners are distinct by port alone.
std::map<size_t, std::string> FindConflicts(const model::Gateway& gw) {
  std::map<std::pair<int, std::string>, std::vector<size_t>> by_port;
  for (size_t i = 0; i < gw.listeners.size(); ++i) {
    const auto& l = gw.listeners[i];
    if (SupportedProtocols().count(l.protocol))
      by_port[{l.port, Transport(l.protocol)}].push_back(i);
  }
  std::map<size_t, std::string> conflicts;
  for (const auto& [port, idx] : by_port) {
    std::set<std::string> protocols;
    for (size_t i : idx) protocols.insert(gw.listeners[i].protocol);
    if (protocols.size() > 1) {
      for (size_t i : idx) conflicts[i] = "ProtocolConflict";
      continue;
    }
    bool l4 = *protocols.begin() == "TCP" || *protocols.begin() == "UDP";
    for (size_t i : idx) {
      for (size_t j : idx) {
        if (i == j) continue;
        if (l4) {
          conflicts[i] = "ProtocolConflict";
        } else if (gw.listeners[i].hostname.value_or("") == gw.listeners[j].hostname.value_or("")) {
          conflicts[i] = "HostnameConflict";
        }
      }
    }
  }
  return conflicts;
}

// HTTPS listeners on one port whose hostnames overlap ("*.example.com" and
// "foo.example.com"; no hostname overlaps every other): index -> one listener it overlaps.
std::map<size_t, std::string> FindOverlappingTls(const model::Gateway& gw) {
  std::map<size_t, std::string> out;
  for (size_t i = 0; i < gw.listeners.size(); ++i) {
    for (size_t j = 0; j < gw.listeners.size(); ++j) {
      const auto& a = gw.listeners[i];
      const auto& b = gw.listeners[j];
      if (i == j || a.protocol != "HTTPS" || b.protocol != "HTTPS" || a.port != b.port) continue;
      std::vector<std::string> other;
      if (b.hostname && !b.hostname->empty()) other.push_back(*b.hostname);
      if (IntersectHostnames(a.hostname, other).intersects && !out.count(i)) out[i] = b.name;
    }
  }
  return out;
}

// Route kinds a listener supports, and whether every kind it asked for is one of them.
std::pair<std::vector<model::RouteGroupKind>, bool> SupportedKinds(const model::Listener& l) {
  std::vector<std::string> kinds = DefaultKinds(l);
  if (l.protocol == "TLS" && l.tls && l.tls->mode == model::GatewayTLSConfig::Mode::kTerminate) {
    kinds.clear();  // TLS termination with TLSRoute is not supported
  }
  std::vector<model::RouteGroupKind> out;
  if (l.allowed_routes.kinds.empty()) {
    for (const auto& kind : kinds) out.push_back({model::kGatewayGroup, kind});
    return {out, true};
  }
  bool all_valid = true;
  for (const auto& k : l.allowed_routes.kinds) {
    bool known = std::find(kinds.begin(), kinds.end(), k.kind) != kinds.end();
    if (k.group == model::kGatewayGroup && known) {
      bool listed = std::any_of(out.begin(), out.end(),
                                [&](const model::RouteGroupKind& o) { return o.kind == k.kind; });
      if (!listed) out.push_back(k);
    } else {
      all_valid = false;
    }
  }
  return {out, all_valid};
}

struct RefsOutcome {
  std::string reason = "ResolvedRefs";
  std::string message = "All references are resolved";
  std::vector<const model::Secret*> certificates;
};

RefsOutcome ResolveCertificates(const Store& store, const model::Gateway& gw,
                                const model::Listener& l) {
  RefsOutcome out;
  if (l.protocol != "HTTPS") return out;
  if (!l.tls || l.tls->certificate_refs.empty()) {
    out.reason = "InvalidCertificateRef";
    out.message = "an HTTPS listener needs tls.certificateRefs";
    return out;
  }
  for (const auto& ref : l.tls->certificate_refs) {
    SecretRef resolved = ResolveGatewaySecretRef(store, ref, gw.meta.ns, "certificateRef");
    if (resolved.secret != nullptr) {
      out.certificates.push_back(resolved.secret);
    } else if (out.reason == "ResolvedRefs") {
      out.reason = resolved.not_permitted ? "RefNotPermitted" : "InvalidCertificateRef";
      out.message = std::move(resolved.problem);
    }
  }
  return out;
}

struct ListenerVerdict {
  std::string accepted_reason = "Accepted";
  std::string accepted_message = "Listener is accepted";
  std::string conflict;  // "" or HostnameConflict / ProtocolConflict
};

ListenerVerdict CheckListener(const model::Listener& l) {
  ListenerVerdict v;
  if (!SupportedProtocols().count(l.protocol)) {
    v.accepted_reason = "UnsupportedProtocol";
    v.accepted_message = "protocol " + l.protocol + " is not supported";
  } else if (l.port < 1 || l.port > 65535) {
    v.accepted_reason = "PortUnavailable";
    v.accepted_message = "port " + std::to_string(l.port) + " is out of range";
  } else if (l.protocol == "TLS" &&
             (!l.tls || l.tls->mode == model::GatewayTLSConfig::Mode::kTerminate)) {
    v.accepted_reason = "UnsupportedValue";
    v.accepted_message =
        "TLS listeners support tls.mode Passthrough only; use protocol HTTPS to terminate TLS";
  } else if (l.protocol == "HTTPS" && l.tls &&
             l.tls->mode == model::GatewayTLSConfig::Mode::kPassthrough) {
    v.accepted_reason = "UnsupportedValue";
    v.accepted_message = "HTTPS listeners need tls.mode Terminate";
  }
  return v;
}

// Why the proxy cannot listen for `l` on one of `addresses` ("" when it can).
std::string PortProblem(const model::Listener& l, const std::vector<std::string>& addresses,
                        const BindOptions& options) {
  if (l.protocol != "HTTP" && l.protocol != "HTTPS" && l.protocol != "TLS") return "";
  for (const auto& a : addresses) {
    auto it = options.unavailable_ports.find({a, l.port});
    if (it == options.unavailable_ports.end()) continue;
    std::string where =
        (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(l.port);
    return "cannot listen on " + where + (it->second.empty() ? "" : ": " + it->second) +
           " (retrying)";
  }
  return "";
}

}  // namespace

std::map<Store::Key, GatewayState> BindGateways(const Store& store,
                                                const std::set<std::string>& our_classes,
                                                const BindOptions& options) {
  std::vector<std::pair<const Store::Key*, const model::Gateway*>> ordered;
  for (const auto& [key, gw] : store.gateways) {
    if (our_classes.count(gw.gateway_class_name)) ordered.emplace_back(&key, &gw);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return std::tuple_cat(AgeKey(a.second->meta), std::tie(*a.first)) <
           std::tuple_cat(AgeKey(b.second->meta), std::tie(*b.first));
  });

  // (address, port, transport) -> the Gateway that holds it.
  std::map<std::tuple<std::string, int, std::string>, Store::Key> claimed;
  std::map<Store::Key, GatewayState> out;
  for (const auto& [key, gateway] : ordered) {
    const model::Gateway& gw = *gateway;
    const int64_t gen = gw.meta.generation;
    GatewayState& state = out[*key];
    state.key = *key;
    state.gateway = &gw;

    // Addresses: the spec's IPAddress entries, else the node's.
    std::string address_problem, unusable;
    std::vector<std::string> addresses;
    for (const auto& a : gw.addresses) {
      if (!a.type.empty() && a.type != "IPAddress") {
        address_problem = "address type " + a.type + " is not supported (only IPAddress)";
      } else if (a.value.empty()) {
        // An IPAddress without a value asks for any address: the node's.
        for (const auto& n : options.node_addresses) {
          if (std::find(addresses.begin(), addresses.end(), n) == addresses.end()) {
            addresses.push_back(n);
          }
        }
      } else if (!IsIpLiteral(a.value)) {
        unusable = "address " + a.value + " is not an IP address";
      } else {
        addresses.push_back(a.value);
      }
    }
    if (gw.addresses.empty()) addresses = options.node_addresses;
    if (address_problem.empty() && unusable.empty()) {
      for (const auto& a : addresses) state.status.addresses.push_back({"IPAddress", a});
    }

    std::optional<BackendClientCertificate> client_cert =
        ResolveBackendClientCertificate(store, gw);
    std::vector<std::string> unresolved;  // listeners whose ResolvedRefs is False
    std::map<size_t, std::string> conflicts = FindConflicts(gw);
    std::map<size_t, std::string> overlapping = FindOverlappingTls(gw);
    int valid = 0;
    int waiting = 0;  // valid but for a port the proxy cannot listen on yet
    std::vector<std::string> invalid_names;
    for (size_t i = 0; i < gw.listeners.size(); ++i) {
      const model::Listener& l = gw.listeners[i];
      ListenerState ls;
      ls.listener = &l;
      ls.bound.gateway = *key;
      ls.bound.index = i;
      ls.bound.listener = &l;
      ls.bound.addresses = addresses;
      if (client_cert) ls.bound.backend_client_certificate = client_cert->secret;
      ls.status.name = l.name;

      ListenerVerdict v = CheckListener(l);
      if (auto c = conflicts.find(i); c != conflicts.end()) v.conflict = c->second;
      bool accepted = v.accepted_reason == "Accepted" && v.conflict.empty();
      if (!v.conflict.empty() && v.accepted_reason == "Accepted") {
        v.accepted_reason = v.conflict;
        v.accepted_message =
            "listener is not distinct from another listener on port " + std::to_string(l.port);
      }
      if (accepted && address_problem.empty() && unusable.empty()) {
        for (const auto& a : addresses) {
          auto [it, fresh] =
              claimed.emplace(std::make_tuple(a, l.port, Transport(l.protocol)), *key);
          if (!fresh && it->second != *key) {
            accepted = false;
            v.accepted_reason = "PortUnavailable";
            v.accepted_message = a + ":" + std::to_string(l.port) + " is used by Gateway " +
                                 it->second.first + "/" + it->second.second;
          }
        }
      }

      auto [kinds, kinds_valid] = SupportedKinds(l);
      ls.supported_kinds = kinds;
      ls.status.supported_kinds = kinds;
      RefsOutcome refs;
      if (!kinds_valid) {
        refs.reason = "InvalidRouteKinds";
        refs.message = "allowedRoutes.kinds names a kind this listener cannot serve";
      }
      RefsOutcome certs = ResolveCertificates(store, gw, l);
      if (refs.reason == "ResolvedRefs") refs = certs;
      ls.bound.certificates = certs.certificates;
      bool certs_ok = certs.reason == "ResolvedRefs";
      FrontendValidationOutcome frontend = ResolveFrontendValidation(store, gw, l);
      ls.bound.client_validation = frontend.validation;
      if (!frontend.refs_reason.empty() && refs.reason == "ResolvedRefs") {
        refs.reason = frontend.refs_reason;
        refs.message = frontend.refs_message;
      }
      if (frontend.no_valid_ca && accepted) {
        accepted = false;
        v.accepted_reason = "NoValidCACertificate";
        v.accepted_message = "no frontend caCertificateRef is valid: " + frontend.refs_message;
      }

      bool listener_valid = accepted && certs_ok && !kinds.empty();
      // The data plane keeps a listener whose port is taken, so the proxy retries it.
      ls.bound.programmed =
          listener_valid && address_problem.empty() && unusable.empty() && !addresses.empty();
      std::string port_problem =
          ls.bound.programmed ? PortProblem(l, addresses, options) : std::string();
      if (!port_problem.empty()) {
        accepted = false;
        v.accepted_reason = "PortUnavailable";
        v.accepted_message = port_problem;
        ++waiting;
        invalid_names.push_back(l.name);
      } else if (listener_valid) {
        ++valid;
      } else {
        invalid_names.push_back(l.name);
      }

      auto& conds = ls.status.conditions;
      conds.push_back(MakeCondition("Accepted", accepted, v.accepted_reason, v.accepted_message,
                                    gen, options.now));
      bool serving = ls.bound.programmed && port_problem.empty();
      conds.push_back(
          MakeCondition("Programmed", serving,
                        serving ? "Programmed" : (port_problem.empty() ? "Invalid" : "Pending"),
                        serving                ? "Listener is programmed"
                        : port_problem.empty() ? "Listener is not programmed"
                                               : "waiting for the port: " + port_problem,
                        gen, options.now));
      conds.push_back(MakeCondition("ResolvedRefs", refs.reason == "ResolvedRefs", refs.reason,
                                    refs.message, gen, options.now));
      if (refs.reason != "ResolvedRefs") unresolved.push_back(l.name);
      conds.push_back(MakeCondition(
          "Conflicted", !v.conflict.empty(), v.conflict.empty() ? "NoConflicts" : v.conflict,
          v.conflict.empty() ? "No conflicts" : "listener conflicts with another listener", gen,
          options.now));
      if (auto o = overlapping.find(i); o != overlapping.end()) {
        // Negative polarity: present only when True (GEP-3567).
        conds.push_back(MakeCondition("OverlappingTLSConfig", true, "OverlappingHostnames",
                                      "hostname overlaps listener " + o->second +
                                          " on the same port: connection coalescing may send "
                                          "requests to the wrong listener",
                                      gen, options.now));
      }
      state.listeners.push_back(std::move(ls));
    }

    // Gateway conditions.
    bool gw_accepted = true;
    bool keep_data_plane = true;
    std::string reason = "Accepted", message = "Gateway is accepted";
    if (!address_problem.empty()) {
      gw_accepted = false;
      reason = "UnsupportedAddress";
      message = address_problem;
    } else if (!invalid_names.empty()) {
      gw_accepted = valid > 0;
      // Accepted but for ports: its listeners stay in the data plane (see below), or a freed
      // port would flip the Gateway out of it and back.
      keep_data_plane = valid + waiting > 0;
      reason = "ListenersNotValid";
      message = "listeners not valid:";
      for (const auto& n : invalid_names) message += " " + n;
    }
    state.status.conditions.push_back(
        MakeCondition("Accepted", gw_accepted, reason, message, gen, options.now));
    bool programmed = gw_accepted && unusable.empty() && !addresses.empty();
    std::string preason = "Programmed", pmessage = "Gateway is programmed";
    if (!gw_accepted && keep_data_plane && address_problem.empty()) {
      preason = "Pending";
      pmessage = "no listener can listen yet: the proxy retries their ports";
    } else if (!gw_accepted) {
      preason = "Invalid";
      pmessage = "Gateway is not accepted";
    } else if (!unusable.empty()) {
      preason = "AddressNotUsable";
      pmessage = unusable;
    } else if (addresses.empty()) {
      preason = "AddressNotAssigned";
      pmessage = "Gateway has no addresses and the node has none to give";
    }
    state.status.conditions.push_back(
        MakeCondition("Programmed", programmed, preason, pmessage, gen, options.now));
    // ResolvedRefs: the Gateway's own references (spec.tls.backend), then a summary of its
    // listeners'. It does not change Accepted or Programmed.
    std::string rreason = "ResolvedRefs", rmessage = "All references are resolved";
    if (client_cert && client_cert->secret == nullptr) {
      rreason = client_cert->reason;
      rmessage = client_cert->message;
    } else if (!unresolved.empty()) {
      rreason = "ListenersNotResolved";
      rmessage = "listeners with unresolved references:";
      for (const auto& n : unresolved) rmessage += " " + n;
    }
    state.status.conditions.push_back(MakeCondition("ResolvedRefs", rreason == "ResolvedRefs",
                                                    rreason, rmessage, gen, options.now));
    if (UsesInsecureFallback(gw)) {
      // Present only while some client certificate validation is AllowInsecureFallback.
      state.status.conditions.push_back(MakeCondition(
          "InsecureFrontendValidationMode", true, "ConfigurationChanged",
          "client certificate validation is AllowInsecureFallback: connections without a valid "
          "client certificate are accepted",
          gen, options.now));
    }
    if (!programmed) {
      bool keep =
          keep_data_plane && address_problem.empty() && unusable.empty() && !addresses.empty();
      for (auto& ls : state.listeners) {
        if (keep) continue;  // each listener's own Programmed condition says why
        ls.bound.programmed = false;
        for (auto& c : ls.status.conditions) {
          if (c.type != "Programmed") continue;
          c.status = "False";
          c.reason = "Invalid";
          c.message = "the Gateway is not programmed";
        }
      }
    }
  }
  return out;
}

}  // namespace xgate::binder
