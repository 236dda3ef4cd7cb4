// Reference resolution shared by listeners and routes: ReferenceGrant checks, TLS
// certificate Secrets, and backendRefs resolved through Services and EndpointSlices.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/binder/binder.h"
#include "agent/model/objects.h"

namespace xgate::binder {

// Whether a ReferenceGrant in `to_ns` lets objects of (from_group, from_kind) in `from_ns`
// refer to the object (to_group, to_kind, to_name) in `to_ns`. Same-namespace references
// need no grant.
bool ReferenceAllowed(const Store& store, std::string_view from_group, std::string_view from_kind,
                      std::string_view from_ns, std::string_view to_group, std::string_view to_kind,
                      std::string_view to_ns, std::string_view to_name);

// Checks that a Secret holds a PEM certificate chain in tls.crt and a matching PEM private
// key in tls.key. Returns "" when valid, else what is wrong.
std::string CheckTlsSecret(const model::Secret& secret);

// A Gateway's reference to a TLS Secret (a listener's certificateRef, spec.tls.backend's
// clientCertificateRef), resolved: a core Secret, in the Gateway's namespace or allowed by a
// ReferenceGrant, holding a valid tls.crt and tls.key (CheckTlsSecret).
struct SecretRef {
  const model::Secret* secret = nullptr;  // set when the reference resolves
  bool not_permitted = false;             // another namespace and no ReferenceGrant allows it
  std::string problem;  // what is wrong ("" when it resolves), starting with `what`
};
// `from_kind`: who refers ("Gateway", or "ListenerSet" for its listeners' certificateRefs,
// which need a ReferenceGrant from ListenerSet: the Gateway's grants are not inherited).
SecretRef ResolveGatewaySecretRef(const Store& store, const model::ObjectReference& ref,
                                  const std::string& gateway_ns, const std::string& what,
                                  const std::string& from_kind = "Gateway");

// The EndpointSlices of each Service (namespace, kubernetes.io/service-name), gathered once
// per bind so that resolving a backend reads only its own Service's slices.
class SliceIndex {
 public:
  using Slices = std::vector<std::shared_ptr<const model::EndpointSlice>>;
  explicit SliceIndex(const Store& store);
  // `last`'s index with the Services of `changed` gathered again from `store`: the slices of
  // `last` that `store` still holds as they were, and `added` (the slices `store` holds
  // anew: new or changed since `last`), each in `store`'s order. The result equals
  // SliceIndex(store) when every Service whose slices differ is in `changed`. Only the
  // changed Services are copied: the rest are read from `last`'s base.
  SliceIndex(const std::shared_ptr<const SliceIndex>& last, const Store& store,
             const std::map<Store::Key, Slices>& added);
  const Slices& Of(const std::string& ns, const std::string& service) const;
  // Services this index holds apart from its base (0 for a whole index).
  size_t OverlaySize() const { return base_ ? overlay_size_ : 0; }

 private:
  using Map = absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Slices>>;
  const Slices* Find(const std::string& ns, const std::string& service) const;

  // By namespace, then Service name: looked up without copying either name. With a base,
  // the Services gathered again (an empty list for one without slices now).
  Map slices_;
  std::shared_ptr<const SliceIndex> base_;  // a whole index, for every other Service
  size_t overlay_size_ = 0;
};

// Resolves one backendRef (or mirror target) of a route in `route_ns`. `protocol` is the
// transport the route carries (TCP or UDP); a Service port of another protocol is
// UnsupportedProtocol.
ResolvedBackend ResolveBackend(const Store& store, const SliceIndex& slices, model::Kind route_kind,
                               const std::string& route_ns, const model::BackendRef& ref,
                               const std::string& protocol);

}  // namespace xgate::binder
