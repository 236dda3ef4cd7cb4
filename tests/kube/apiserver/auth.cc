#include "tests/kube/apiserver/auth.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>

#include <algorithm>
#include <fstream>

#include "tests/kube/apiserver/api_status.h"

namespace xgate::kubetest {

using nlohmann::json;

absl::StatusOr<User> TokenFile::Authenticate(const std::string& header) {
  absl::Status unauthorized = ApiError(401, "Unauthorized", "Unauthorized");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.rfind(kBearer, 0) != 0 || header.size() == kBearer.size()) return unauthorized;
  std::string token = header.substr(kBearer.size());
  std::lock_guard lock(mu_);
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(file_, ec);
  if (!ec && mtime != loaded_at_) {
    users_.clear();
    std::ifstream in(file_);
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(',', 3));
      if (f.size() < 2 || f[0].empty()) continue;
      User u{f[1], {"system:authenticated"}};
      if (f.size() == 4) {
        for (auto g : absl::StrSplit(absl::StripPrefix(absl::StripSuffix(f[3], "\""), "\""), ',',
                                     absl::SkipEmpty()))
          u.groups.emplace_back(g);
      }
      users_[f[0]] = u;
    }
    loaded_at_ = mtime;
  }
  auto it = users_.find(token);
  if (it == users_.end()) return unauthorized;
  return it->second;
}

namespace {

bool Has(const json& list, const std::string& value) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(),
                     [&](const json& v) { return v == "*" || v == value; });
}

bool RuleAllows(const json& rule, const RequestAttributes& r) {
  if (!Has(rule.value("verbs", json()), r.verb)) return false;
  if (!Has(rule.value("apiGroups", json()), r.group)) return false;
  std::string resource = r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource;
  const json& resources = rule.value("resources", json());
  bool resource_ok =
      Has(resources, resource) || (!r.subresource.empty() && Has(resources, "*/" + r.subresource));
  if (!resource_ok) return false;
  const json& names = rule.value("resourceNames", json::array());
  return names.empty() || Has(names, r.name);
}

bool SubjectIs(const json& subject, const User& user, const std::string& binding_ns) {
  std::string kind = subject.value("kind", "");
  std::string name = subject.value("name", "");
  if (kind == "User") return name == user.name;
  if (kind == "Group")
    return std::find(user.groups.begin(), user.groups.end(), name) != user.groups.end();
  if (kind == "ServiceAccount") {
    return user.name ==
           absl::StrCat("system:serviceaccount:", subject.value("namespace", binding_ns), ":",
                        name);
  }
  return false;
}

bool BindsUser(const json& binding, const User& user) {
  std::string ns = binding["metadata"].value("namespace", "");
  const json& subjects = binding.value("subjects", json::array());
  return std::any_of(subjects.begin(), subjects.end(),
                     [&](const json& s) { return SubjectIs(s, user, ns); });
}

bool RoleAllows(const Store& store, const json& role_ref, const std::string& binding_ns,
                const RequestAttributes& r) {
  std::string kind = role_ref.value("kind", "");
  std::string name = role_ref.value("name", "");
  auto role = kind == "ClusterRole"
                  ? store.Get("rbac.authorization.k8s.io/clusterroles", ObjectKey("", name))
                  : store.Get("rbac.authorization.k8s.io/roles", ObjectKey(binding_ns, name));
  if (!role) return false;
  const json& rules = role->value("rules", json::array());
  return std::any_of(rules.begin(), rules.end(),
                     [&](const json& rule) { return RuleAllows(rule, r); });
}

}  // namespace

absl::Status Authorize(const Store& store, const User& user, const RequestAttributes& r) {
  if (std::find(user.groups.begin(), user.groups.end(), "system:masters") != user.groups.end())
    return absl::OkStatus();
  uint64_t head;
  for (const json& b : store.List("rbac.authorization.k8s.io/clusterrolebindings", &head)) {
    if (BindsUser(b, user) && RoleAllows(store, b.value("roleRef", json()), "", r))
      return absl::OkStatus();
  }
  if (!r.ns.empty()) {
    for (const json& b : store.List("rbac.authorization.k8s.io/rolebindings", &head, r.ns + "/")) {
      if (b["metadata"].value("namespace", "") != r.ns) break;
      if (BindsUser(b, user) && RoleAllows(store, b.value("roleRef", json()), r.ns, r))
        return absl::OkStatus();
    }
  }
  std::string what = r.group.empty() ? r.resource : r.resource + "." + r.group;
  std::string message =
      absl::StrCat(what, r.name.empty() ? "" : " \"" + r.name + "\"", " is forbidden: User \"",
                   user.name, "\" cannot ", r.verb, " resource \"", r.resource,
                   r.subresource.empty() ? "" : "/" + r.subresource, "\"");
  absl::StrAppend(&message, " in API group \"", r.group, "\"",
                  r.ns.empty() ? " at the cluster scope" : " in the namespace \"" + r.ns + "\"");
  json details = {{"kind", r.resource}};
  if (!r.group.empty()) details["group"] = r.group;
  if (!r.name.empty()) details["name"] = r.name;
  return ApiError(403, "Forbidden", message, details);
}

}  // namespace xgate::kubetest
