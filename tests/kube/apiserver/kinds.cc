#include "tests/kube/apiserver/kinds.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace xgate::kubetest {

using nlohmann::json;

std::vector<Kind> BuiltinKinds() {
  auto k = [](std::string group, std::string version, std::string kind, std::string resource,
              bool namespaced, bool status, std::vector<std::string> shorts = {}) {
    Kind out{group, version, kind, resource, {}, namespaced, status, true, shorts, {}};
    out.singular = kind;
    std::transform(out.singular.begin(), out.singular.end(), out.singular.begin(), ::tolower);
    return out;
  };
  std::vector<Kind> kinds = {
      k("", "v1", "Namespace", "namespaces", false, true, {"ns"}),
      k("", "v1", "Service", "services", true, true, {"svc"}),
      k("", "v1", "Secret", "secrets", true, false),
      k("", "v1", "ServiceAccount", "serviceaccounts", true, false, {"sa"}),
      k("", "v1", "ConfigMap", "configmaps", true, false, {"cm"}),
      k("", "v1", "Endpoints", "endpoints", true, false, {"ep"}),
      k("", "v1", "Pod", "pods", true, true, {"po"}),
      k("", "v1", "Node", "nodes", false, true, {"no"}),
      k("", "v1", "Event", "events", true, false, {"ev"}),
      k("apps", "v1", "DaemonSet", "daemonsets", true, true, {"ds"}),
      k("apps", "v1", "Deployment", "deployments", true, true, {"deploy"}),
      k("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, false),
      k("coordination.k8s.io", "v1", "Lease", "leases", true, false),
      k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, false),
      k("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false,
        false),
      k("rbac.authorization.k8s.io", "v1", "Role", "roles", true, false),
      k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, false),
      k("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
        false, true, {"crd", "crds"}),
      k("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies", false, true),
      k("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings", false, false),
  };
  return kinds;
}

std::string CrdStoreKey(const json& crd) {
  const json& spec = crd.value("spec", json::object());
  return spec.value("group", "") + "/" + spec.value("names", json::object()).value("plural", "");
}

std::vector<Kind> KindsOfCrd(const json& crd) {
  std::vector<Kind> out;
  const json& spec = crd.value("spec", json::object());
  const json& names = spec.value("names", json::object());
  for (const json& v : spec.value("versions", json::array())) {
    if (!v.value("served", false)) continue;
    Kind k;
    k.group = spec.value("group", "");
    k.version = v.value("name", "");
    k.kind = names.value("kind", "");
    k.resource = names.value("plural", "");
    k.singular = names.value("singular", "");
    k.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    k.status_subresource = v.contains("subresources") && v["subresources"].contains("status");
    k.builtin = false;
    k.short_names = names.value("shortNames", std::vector<std::string>{});
    k.categories = names.value("categories", std::vector<std::string>{});
    out.push_back(std::move(k));
  }
  return out;
}

bool VersionBefore(const std::string& a, const std::string& b) {
  static const std::regex kube(R"(v(\d+)(?:(alpha|beta)(\d+))?)");
  auto rank = [](const std::string& v) {
    std::smatch m;
    if (!std::regex_match(v, m, kube)) return std::tuple<int, int, int>(0, 0, 0);
    int level = m[2].matched ? (m[2] == "beta" ? 2 : 1) : 3;
    return std::tuple<int, int, int>(level, std::stoi(m[1]), m[3].matched ? std::stoi(m[3]) : 0);
  };
  auto ra = rank(a), rb = rank(b);
  if (ra != rb) return ra > rb;
  return a < b;
}

json ApiVersions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

namespace {

// group -> its versions, in priority order.
std::map<std::string, std::vector<std::string>> GroupVersions(const std::vector<Kind>& kinds) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const Kind& k : kinds) {
    if (k.group.empty()) continue;
    auto& versions = groups[k.group];
    if (std::find(versions.begin(), versions.end(), k.version) == versions.end())
      versions.push_back(k.version);
  }
  for (auto& [_, versions] : groups) std::sort(versions.begin(), versions.end(), VersionBefore);
  return groups;
}

json GroupJson(const std::string& group, const std::vector<std::string>& versions) {
  json list = json::array();
  for (const auto& v : versions)
    list.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group},
          {"versions", list},
          {"preferredVersion",
           {{"groupVersion", group + "/" + versions.front()}, {"version", versions.front()}}}};
}

}  // namespace

json ApiGroupList(const std::vector<Kind>& kinds) {
  json groups = json::array();
  for (const auto& [group, versions] : GroupVersions(kinds))
    groups.push_back(GroupJson(group, versions));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> ApiGroup(const std::vector<Kind>& kinds, const std::string& group) {
  auto groups = GroupVersions(kinds);
  auto it = groups.find(group);
  if (it == groups.end()) return std::nullopt;
  json g = GroupJson(group, it->second);
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return g;
}

std::optional<json> ApiResourceList(const std::vector<Kind>& kinds,
                                    const std::string& group_version) {
  json resources = json::array();
  for (const Kind& k : kinds) {
    if (k.GroupVersion() != group_version) continue;
    json r = {
        {"name", k.resource},
        {"singularName", k.singular},
        {"namespaced", k.namespaced},
        {"kind", k.kind},
        {"verbs",
         {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
    if (!k.short_names.empty()) r["shortNames"] = k.short_names;
    if (!k.categories.empty()) r["categories"] = k.categories;
    resources.push_back(r);
    if (k.status_subresource) {
      resources.push_back({{"name", k.resource + "/status"},
                           {"singularName", ""},
                           {"namespaced", k.namespaced},
                           {"kind", k.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  if (resources.empty()) return std::nullopt;
  return json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", group_version},
              {"resources", resources}};
}

}  // namespace xgate::kubetest
