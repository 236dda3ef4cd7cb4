#include "agent/binder/backend_tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "agent/binder/age.h"
#include "agent/binder/listeners.h"
#include "agent/binder/references.h"

namespace xgate::binder {
namespace {

using model::BackendTLSPolicy;
using model::ObjectKey;

// A Service port some accepted L7 route sends to, and the Gateways whose routes do.
struct RoutedPort {
  std::string ns;
  std::string service;
  int port = 0;
  std::string port_name;
  std::set<Store::Key> gateways;
};

bool TerminatesHttp(model::Kind kind) {
  return kind != model::Kind::kTCPRoute && kind != model::Kind::kUDPRoute &&
         kind != model::Kind::kTLSRoute;
}

std::map<std::string, RoutedPort> CollectRoutedPorts(const Store& store,
                                                     const std::vector<BoundListener>& listeners) {
  std::map<std::string, RoutedPort> out;
  auto add = [&](const ResolvedBackend& b, const Store::Key& gateway) {
    if (!b.invalid_reason.empty()) return;
    RoutedPort& p = out[b.ClusterName()];
    if (p.service.empty()) {
      p.ns = b.ns;
      p.service = b.name;
      p.port = b.service_port;
      auto svc = store.services.find({b.ns, b.name});
      if (svc != store.services.end()) {
        for (const auto& sp : svc->second.ports) {
          if (sp.port == b.service_port) p.port_name = sp.name;
        }
      }
    }
    p.gateways.insert(gateway);
  };
  for (const BoundListener& l : listeners) {
    for (const BoundRoute& r : l.routes) {
      if (!TerminatesHttp(r.key.kind)) continue;
      for (const auto& rule : r.backends->rule_backends) {
        for (const auto& b : rule) add(b, l.gateway);
      }
      for (const auto& [k, b] : r.backends->mirrors) add(b, l.gateway);
      for (const auto& [k, b] : r.backends->backend_mirrors) add(b, l.gateway);
    }
  }
  return out;
}

bool TargetsService(const model::PolicyTargetReference& t) {
  return t.group.empty() && t.kind == "Service";
}

// Whether `policy` applies to the port (its sectionName, when given, names the port).
bool Targets(const BackendTLSPolicy& policy, const RoutedPort& port) {
  if (policy.meta.ns != port.ns) return false;
  return std::any_of(policy.target_refs.begin(), policy.target_refs.end(), [&](const auto& t) {
    return TargetsService(t) && t.name == port.service &&
           (!t.section_name || *t.section_name == port.port_name);
  });
}

// The outcome of a policy's own references, before conflicts.
struct Evaluation {
  std::string accepted_reason = "Accepted";  // or NoValidCACertificate, Invalid
  std::string accepted_message = "BackendTLSPolicy is accepted";
  std::string refs_reason = "ResolvedRefs";  // or InvalidCACertificateRef, InvalidKind
  std::string refs_message = "All CA certificate references are resolved";
  BackendTLS tls;
};

Evaluation Evaluate(const Store& store, const BackendTLSPolicy& policy) {
  Evaluation e;
  const auto& v = policy.validation;
  e.tls.policy = {model::Kind::kBackendTLSPolicy, policy.meta.ns, policy.meta.name};
  e.tls.hostname = v.hostname;
  e.tls.subject_alt_names = v.subject_alt_names;
  if (v.well_known_ca_certificates) {
    if (*v.well_known_ca_certificates == "System") {
      e.tls.system_cas = true;
    } else {
      e.accepted_reason = "Invalid";
      e.accepted_message = "wellKnownCACertificates \"" + *v.well_known_ca_certificates +
                           "\" is not supported (only System)";
      e.tls.valid = false;
    }
    return e;
  }
  CaRefs refs =
      ResolveCaConfigMaps(store, v.ca_certificate_refs, "BackendTLSPolicy", policy.meta.ns);
  if (refs.problem != CaRefs::Problem::kNone) {
    e.refs_reason = refs.problem == CaRefs::Problem::kUnsupportedKind ? "InvalidKind"
                                                                      : "InvalidCACertificateRef";
    e.refs_message = refs.message;
  }
  e.tls.ca_pem = std::move(refs.pem);
  int valid_refs = refs.valid;
  if (valid_refs == 0) {
    e.accepted_reason = "NoValidCACertificate";
    e.accepted_message = "no caCertificateRef is valid: " + e.refs_message;
    e.tls.valid = false;
  }
  return e;
}

// Per target (namespace, Service, sectionName or ""), the policy that holds it: the oldest,
// then the first by namespace/name (GEP-713).
std::map<std::tuple<std::string, std::string, std::string>, const BackendTLSPolicy*> Winners(
    const Store& store) {
  std::vector<const BackendTLSPolicy*> by_age;
  for (const auto& [key, p] : store.backend_tls_policies) by_age.push_back(&p);
  std::stable_sort(by_age.begin(), by_age.end(), [](const auto* a, const auto* b) {
    return std::tuple_cat(AgeKey(a->meta), std::tie(a->meta.ns, a->meta.name)) <
           std::tuple_cat(AgeKey(b->meta), std::tie(b->meta.ns, b->meta.name));
  });
  std::map<std::tuple<std::string, std::string, std::string>, const BackendTLSPolicy*> out;
  for (const BackendTLSPolicy* p : by_age) {
    for (const auto& t : p->target_refs) {
      if (!TargetsService(t)) continue;
      out.emplace(std::make_tuple(p->meta.ns, t.name, t.section_name.value_or("")), p);
    }
  }
  return out;
}

bool Conflicted(const BackendTLSPolicy& p, const auto& winners) {
  return std::any_of(p.target_refs.begin(), p.target_refs.end(), [&](const auto& t) {
    if (!TargetsService(t)) return false;
    auto it = winners.find(std::make_tuple(p.meta.ns, t.name, t.section_name.value_or("")));
    return it != winners.end() && it->second != &p;
  });
}

}  // namespace

int CountPemCertificates(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return 0;
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  BIO_free(bio);
  return count;
}

CaRefs ResolveCaConfigMaps(const Store& store, const std::vector<model::ObjectReference>& refs,
                           const std::string& from_kind, const std::string& from_ns) {
  CaRefs out;
  auto problem = [&](CaRefs::Problem p, const std::string& message) {
    if (out.problem != CaRefs::Problem::kNone) return;  // the first one is reported
    out.problem = p;
    out.message = message;
  };
  for (const auto& ref : refs) {
    std::string ns = ref.ns.value_or(from_ns);
    std::string what = "caCertificateRef " + ref.kind + " " + ns + "/" + ref.name;
    if (!ref.group.empty() || ref.kind != "ConfigMap") {
      problem(CaRefs::Problem::kUnsupportedKind,
              what + ": kind " + (ref.group.empty() ? "" : ref.group + "/") + ref.kind +
                  " is not supported (only core ConfigMap)");
      continue;
    }
    if (!ReferenceAllowed(store, model::kGatewayGroup, from_kind, from_ns, "", "ConfigMap", ns,
                          ref.name)) {
      problem(CaRefs::Problem::kNotPermitted, what + ": no ReferenceGrant in " + ns + " allows it");
      continue;
    }
    auto cm = store.config_maps.find({ns, ref.name});
    if (cm == store.config_maps.end()) {
      problem(CaRefs::Problem::kUnresolved, what + ": ConfigMap not found");
      continue;
    }
    auto ca = cm->second.data.find("ca.crt");
    if (ca == cm->second.data.end() || ca->second.empty()) {
      problem(CaRefs::Problem::kUnresolved, what + ": no ca.crt key");
      continue;
    }
    if (CountPemCertificates(ca->second) == 0) {
      problem(CaRefs::Problem::kUnresolved, what + ": ca.crt holds no PEM certificate");
      continue;
    }
    out.pem += ca->second;
    if (!out.pem.ends_with('\n')) out.pem += '\n';
    ++out.valid;
  }
  return out;
}

std::optional<BackendClientCertificate> ResolveBackendClientCertificate(const Store& store,
                                                                        const model::Gateway& gw) {
  if (!gw.tls.backend_client_certificate) return std::nullopt;
  SecretRef ref = ResolveGatewaySecretRef(store, *gw.tls.backend_client_certificate, gw.meta.ns,
                                          "backend clientCertificateRef");
  BackendClientCertificate out;
  out.secret = ref.secret;
  if (ref.secret == nullptr) {
    out.reason = ref.not_permitted ? "RefNotPermitted" : "InvalidClientCertificateRef";
    out.message = std::move(ref.problem);
  }
  return out;
}

std::map<std::string, BackendTLS> BindBackendTLSPolicies(
    const Store& store, const std::vector<BoundListener>& listeners, const std::string& now,
    std::map<model::ObjectKey, model::PolicyStatus>& statuses) {
  std::map<std::string, BackendTLS> out;
  if (store.backend_tls_policies.empty()) return out;
  std::map<std::string, RoutedPort> ports = CollectRoutedPorts(store, listeners);
  auto winners = Winners(store);
  std::map<const BackendTLSPolicy*, Evaluation> evaluations;
  auto evaluation = [&](const BackendTLSPolicy& p) -> const Evaluation& {
    auto it = evaluations.find(&p);
    if (it == evaluations.end()) it = evaluations.emplace(&p, Evaluate(store, p)).first;
    return it->second;
  };
  std::map<const BackendTLSPolicy*, std::set<Store::Key>> ancestors;
  for (const auto& [cluster, port] : ports) {
    for (const auto& [key, policy] : store.backend_tls_policies) {
      if (Targets(policy, port))
        ancestors[&policy].insert(port.gateways.begin(), port.gateways.end());
    }
    // The policy naming this port wins over one naming the whole Service.
    auto it = winners.find(std::make_tuple(port.ns, port.service, port.port_name));
    if (port.port_name.empty() || it == winners.end()) {
      it = winners.find(std::make_tuple(port.ns, port.service, std::string()));
    }
    if (it != winners.end()) out.emplace(cluster, evaluation(*it->second).tls);
  }
  for (const auto& [policy, gateways] : ancestors) {
    const Evaluation& e = evaluation(*policy);
    bool conflicted = Conflicted(*policy, winners);
    int64_t gen = policy->meta.generation;
    model::PolicyStatus status;
    for (const Store::Key& gw : gateways) {
      model::RouteParentStatus a;
      a.parent_ref.ns = gw.first;
      a.parent_ref.name = gw.second;
      if (conflicted) {
        a.conditions.push_back(MakeCondition(
            "Accepted", false, "Conflicted",
            "an older BackendTLSPolicy targets the same Service and sectionName", gen, now));
      } else {
        a.conditions.push_back(MakeCondition("Accepted", e.accepted_reason == "Accepted",
                                             e.accepted_reason, e.accepted_message, gen, now));
      }
      a.conditions.push_back(MakeCondition("ResolvedRefs", e.refs_reason == "ResolvedRefs",
                                           e.refs_reason, e.refs_message, gen, now));
      status.ancestors.push_back(std::move(a));
    }
    statuses[{model::Kind::kBackendTLSPolicy, policy->meta.ns, policy->meta.name}] =
        std::move(status);
  }
  return out;
}

}  // namespace xgate::binder
