// The resources the test API server serves: the built-in kinds xgate, kubectl and deploy/ use,
// and the kinds of the CustomResourceDefinitions stored in it (each served version).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace xgate::kubetest {

struct Kind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string resource;  // plural, lower case
  std::string singular;
  bool namespaced = true;
  bool status_subresource = false;
  bool builtin = true;  // built-in list items carry no kind/apiVersion, as the real server's
  std::vector<std::string> short_names;
  std::vector<std::string> categories;

  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  // "leases.coordination.k8s.io", as error messages name a resource.
  std::string GroupResource() const { return group.empty() ? resource : resource + "." + group; }
  // Storage is per group and resource: every version of a CRD shares it.
  std::string StoreKey() const { return group + "/" + resource; }
};

std::vector<Kind> BuiltinKinds();

// The kinds of one stored CustomResourceDefinition, one per served version.
std::vector<Kind> KindsOfCrd(const nlohmann::json& crd);

// The store key of the kinds a CRD defines ("group/plural").
std::string CrdStoreKey(const nlohmann::json& crd);

// Kubernetes version priority (v1 > v1beta2 > v1beta1 > v1alpha1 > other): true when a
// sorts before b.
bool VersionBefore(const std::string& a, const std::string& b);

// Discovery documents over `kinds` (what the server serves at the moment).
nlohmann::json ApiVersions(const std::string& server_address);
nlohmann::json ApiGroupList(const std::vector<Kind>& kinds);
std::optional<nlohmann::json> ApiGroup(const std::vector<Kind>& kinds, const std::string& group);
std::optional<nlohmann::json> ApiResourceList(const std::vector<Kind>& kinds,
                                              const std::string& group_version);

}  // namespace xgate::kubetest
