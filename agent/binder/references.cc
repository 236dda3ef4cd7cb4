#include "agent/binder/references.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

namespace xgate::binder {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> MemBio(const std::string& bytes) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

bool IsCoreGroup(std::string_view group) { return group.empty() || group == "core"; }

}  // namespace

bool ReferenceAllowed(const Store& store, std::string_view from_group, std::string_view from_kind,
                      std::string_view from_ns, std::string_view to_group, std::string_view to_kind,
                      std::string_view to_ns, std::string_view to_name) {
  if (from_ns == to_ns) return true;
  for (const auto& [key, grant] : store.reference_grants) {
    if (key.first != to_ns) continue;
    bool from_ok = std::any_of(grant.from.begin(), grant.from.end(), [&](const auto& f) {
      return f.group == from_group && f.kind == from_kind && f.ns == from_ns;
    });
    if (!from_ok) continue;
    bool to_ok = std::any_of(grant.to.begin(), grant.to.end(), [&](const auto& t) {
      return IsCoreGroup(t.group) == IsCoreGroup(to_group) &&
             (IsCoreGroup(to_group) || t.group == to_group) && t.kind == to_kind &&
             (!t.name || t.name->empty() || *t.name == to_name);
    });
    if (to_ok) return true;
  }
  return false;
}

std::string CheckTlsSecret(const model::Secret& secret) {
  auto crt = secret.data.find("tls.crt");
  auto key = secret.data.find("tls.key");
  if (crt == secret.data.end() || crt->second.empty()) return "Secret has no tls.crt";
  if (key == secret.data.end() || key->second.empty()) return "Secret has no tls.key";
  auto crt_bio = MemBio(crt->second);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(crt_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return "tls.crt is not a PEM certificate";
  }
  auto key_bio = MemBio(key->second);
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    ERR_clear_error();
    return "tls.key is not a PEM private key";
  }
  if (X509_check_private_key(cert.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return "tls.key does not match the certificate in tls.crt";
  }
  return "";
}

SecretRef ResolveGatewaySecretRef(const Store& store, const model::ObjectReference& ref,
                                  const std::string& gateway_ns, const std::string& what,
                                  const std::string& from_kind) {
  SecretRef out;
  std::string ns = ref.ns.value_or(gateway_ns);
  std::string kind = ref.kind.empty() ? "Secret" : ref.kind;
  std::string name = what + " " + ns + "/" + ref.name;
  if (!IsCoreGroup(ref.group) || kind != "Secret") {
    out.problem = name + ": kind " + (IsCoreGroup(ref.group) ? "" : ref.group + "/") + kind +
                  " is not supported (only core Secret)";
  } else if (!ReferenceAllowed(store, model::kGatewayGroup, from_kind, gateway_ns, "", "Secret", ns,
                               ref.name)) {
    out.not_permitted = true;
    out.problem = name + ": no ReferenceGrant in " + ns + " allows it";
  } else if (auto it = store.secrets.find({ns, ref.name}); it == store.secrets.end()) {
    out.problem = name + ": Secret not found";
  } else if (std::string bad = CheckTlsSecret(it->second); !bad.empty()) {
    out.problem = name + ": " + bad;
  } else {
    out.secret = &it->second;
  }
  return out;
}

SliceIndex::SliceIndex(const Store& store) {
  for (auto it = store.endpoint_slices.begin(); it != store.endpoint_slices.end(); ++it) {
    slices_[it->first.first][it->second.service_name].push_back(it.shared());
  }
}

SliceIndex::SliceIndex(const std::shared_ptr<const SliceIndex>& last, const Store& store,
                       const std::map<Store::Key, Slices>& added)
    : base_(last->base_ ? last->base_ : last) {
  if (last->base_) {
    slices_ = last->slices_;
    overlay_size_ = last->overlay_size_;
  }
  auto in_store_order = [](const auto& a, const auto& b) {
    return std::tie(a->meta.ns, a->meta.name) < std::tie(b->meta.ns, b->meta.name);
  };
  for (const auto& [service, fresh] : added) {
    Slices now;
    for (const auto& slice : last->Of(service.first, service.second)) {
      auto it = store.endpoint_slices.find({slice->meta.ns, slice->meta.name});
      if (it != store.endpoint_slices.end() && it.shared() == slice) now.push_back(slice);
    }
    now.insert(now.end(), fresh.begin(), fresh.end());
    std::sort(now.begin(), now.end(), in_store_order);
    auto [it, inserted] = slices_[service.first].insert_or_assign(service.second, std::move(now));
    if (inserted) ++overlay_size_;
  }
}

const SliceIndex::Slices* SliceIndex::Find(const std::string& ns,
                                           const std::string& service) const {
  auto in_ns = slices_.find(ns);
  if (in_ns == slices_.end()) return nullptr;
  auto it = in_ns->second.find(service);
  return it == in_ns->second.end() ? nullptr : &it->second;
}

const SliceIndex::Slices& SliceIndex::Of(const std::string& ns, const std::string& service) const {
  static const Slices kNone;
  if (const Slices* own = Find(ns, service)) return *own;
  if (base_) return base_->Of(ns, service);
  return kNone;
}

ResolvedBackend ResolveBackend(const Store& store, const SliceIndex& slices, model::Kind route_kind,
                               const std::string& route_ns, const model::BackendRef& ref,
                               const std::string& protocol) {
  ResolvedBackend out;
  out.ns = ref.ref.ns.value_or(route_ns);
  out.name = ref.ref.name;
  out.service_port = ref.ref.port.value_or(0);
  out.protocol = protocol;
  out.weight = ref.weight;
  out.filters = &ref.filters;
  if (!IsCoreGroup(ref.ref.group) || (!ref.ref.kind.empty() && ref.ref.kind != "Service")) {
    out.invalid_reason = "InvalidKind";
    return out;
  }
  if (!ReferenceAllowed(store, model::kGatewayGroup, model::KindName(route_kind), route_ns, "",
                        "Service", out.ns, out.name)) {
    out.invalid_reason = "RefNotPermitted";
    return out;
  }
  auto svc = store.services.find({out.ns, out.name});
  if (svc == store.services.end() || !ref.ref.port) {
    out.invalid_reason = "BackendNotFound";
    return out;
  }
  const model::ServicePort* port = nullptr;
  for (const auto& p : svc->second.ports) {
    if (p.port == *ref.ref.port) port = &p;
  }
  if (port == nullptr) {
    out.invalid_reason = "BackendNotFound";
    return out;
  }
  if (port->protocol != protocol) {
    out.invalid_reason = "UnsupportedProtocol";
    return out;
  }
  out.app_protocol = port->app_protocol.value_or("");
  // Endpoints: every EndpointSlice of the Service, the slice port named as the Service
  // port (the number comes from the slice: it is the targetPort resolved on the pod).
  std::map<std::pair<std::string, int>, std::string> seen;  // -> nodeName
  for (const auto& s : slices.Of(out.ns, out.name)) {
    const model::EndpointSlice& slice = *s;
    if (slice.address_type != "IPv4" && slice.address_type != "IPv6") continue;
    const model::EndpointPort* sp = nullptr;
    for (const auto& p : slice.ports) {
      if (p.name == port->name && p.protocol == port->protocol && p.port) sp = &p;
    }
    if (sp == nullptr) continue;
    for (const auto& ep : slice.endpoints) {
      if (!ep.ready) continue;
      for (const auto& addr : ep.addresses) {
        seen.emplace(std::pair(addr, *sp->port), ep.node_name.value_or(""));
      }
    }
  }
  for (const auto& [key, node] : seen) out.endpoints.push_back({key.first, key.second, true, node});
  return out;
}

std::string ResolvedBackend::ClusterName() const {
  return ns + "/" + name + ":" + std::to_string(service_port);
}

}  // namespace xgate::binder
