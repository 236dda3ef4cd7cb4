#include "tools/conformance/status_check.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace xgate::conformance {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

int64_t Generation(const json& obj) {
  const json& meta = obj.value("metadata", json::object());
  return meta.is_object() && meta.contains("generation") && meta["generation"].is_number_integer()
             ? meta["generation"].get<int64_t>()
             : 0;
}

// The condition check on a list of conditions; `where` names it in messages.
std::string CheckCondition(const StatusCheck& c, const json& conditions, int64_t generation,
                           const std::string& where) {
  if (!c.type) return "";
  if (!conditions.is_array()) return absl::StrCat(where, " has no conditions");
  for (const json& cond : conditions) {
    if (Str(cond, "type") != *c.type) continue;
    std::string got = Str(cond, "status");
    std::string reason = Str(cond, "reason");
    if (got != *c.status) {
      return absl::StrCat(where, " condition ", *c.type, " is ", got, " (reason ", reason,
                          "), want ", *c.status);
    }
    if (c.reason && reason != *c.reason) {
      return absl::StrCat(where, " condition ", *c.type, " has reason ", reason, ", want ",
                          *c.reason);
    }
    int64_t observed =
        cond.contains("observedGeneration") && cond["observedGeneration"].is_number_integer()
            ? cond["observedGeneration"].get<int64_t>()
            : 0;
    if (c.observed_generation && observed != *c.observed_generation) {
      return absl::StrCat(where, " condition ", *c.type, " has observedGeneration ", observed,
                          ", want ", *c.observed_generation);
    }
    if (observed != generation) {
      return absl::StrCat(where, " condition ", *c.type, " has observedGeneration ", observed,
                          ", the object's generation is ", generation);
    }
    return "";
  }
  return absl::StrCat(where, " has no condition ", *c.type);
}

int64_t IntOr(const json& j, const char* key, int64_t absent) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>()
                                                                        : absent;
}

// A Gateway or a ListenerSet (X13): conditions, the listed listeners and each listener's.
std::string CheckGateway(const StatusCheck& c, const json& gw) {
  int64_t gen = Generation(gw);
  const json status = gw.value("status", json::object());
  const json listeners =
      status.is_object() ? status.value("listeners", json::array()) : json::array();
  std::string where = absl::StrCat(c.kind, " ", c.ns, "/", c.name);
  if (!c.listener) {
    if (c.attached_listener_sets) {
      // Absent counts as 0, as upstream's GatewayMustHaveAttachedListeners reads it.
      int64_t got = IntOr(status, "attachedListenerSets", 0);
      if (got != *c.attached_listener_sets) {
        return absl::StrCat(where, " has attachedListenerSets ", got, ", want ",
                            *c.attached_listener_sets);
      }
    }
    if (c.listeners) {
      std::vector<std::string> got;
      if (listeners.is_array()) {
        for (const json& l : listeners) got.push_back(Str(l, "name"));
      }
      std::vector<std::string> want = *c.listeners;
      std::vector<std::string> got_sorted = got;
      std::sort(want.begin(), want.end());
      std::sort(got_sorted.begin(), got_sorted.end());
      if (got_sorted != want) {
        return absl::StrCat(where, " lists listeners [", absl::StrJoin(got, ", "), "], want [",
                            absl::StrJoin(*c.listeners, ", "), "]");
      }
    }
    return CheckCondition(c, status.is_object() ? status.value("conditions", json()) : json(), gen,
                          where);
  }
  where = absl::StrCat(where, " listener ", *c.listener);
  const json* l = nullptr;
  if (listeners.is_array()) {
    for (const json& x : listeners) {
      if (Str(x, "name") == *c.listener) l = &x;
    }
  }
  if (l == nullptr) return absl::StrCat(where, " is not in status.listeners");
  if (c.attached_routes) {
    int64_t got = IntOr(*l, "attachedRoutes", -1);
    if (got != *c.attached_routes) {
      return absl::StrCat(where, " has attachedRoutes ", got < 0 ? "missing" : std::to_string(got),
                          ", want ", *c.attached_routes);
    }
  }
  if (c.supported_kinds) {
    std::set<std::string> got;
    std::vector<std::string> listed;
    if (l->contains("supportedKinds") && (*l)["supportedKinds"].is_array()) {
      for (const json& k : (*l)["supportedKinds"]) {
        std::string group = k.contains("group") ? Str(k, "group") : "gateway.networking.k8s.io";
        listed.push_back(Str(k, "kind"));
        if (group == "gateway.networking.k8s.io") got.insert(Str(k, "kind"));
      }
    }
    if (c.supported_kinds->empty() && !listed.empty()) {
      return absl::StrCat(where, " supports [", absl::StrJoin(listed, ", "), "], want none");
    }
    for (const std::string& k : *c.supported_kinds) {
      if (!got.contains(k)) {
        return absl::StrCat(where, " does not list ", k, " in supportedKinds (has [",
                            absl::StrJoin(listed, ", "), "])");
      }
    }
  }
  return CheckCondition(c, l->value("conditions", json()), gen, where);
}

std::string CheckRoute(const StatusCheck& c, const json& route) {
  int64_t gen = Generation(route);
  const json status = route.value("status", json::object());
  // X9: a policy's status.ancestors entries are checked as a route's parents.
  const bool policy = c.kind == "BackendTLSPolicy";
  const char* list = policy ? "ancestors" : "parents";
  const json parents = status.is_object() ? status.value(list, json::array()) : json::array();
  std::string where = absl::StrCat(c.kind, " ", c.ns, "/", c.name, " parent ",
                                   c.parent_kind == "Gateway" ? "" : c.parent_kind + " ",
                                   c.parent_ns, "/", c.parent_name);
  int ours = 0;
  int matched = 0;
  if (parents.is_array()) {
    for (const json& p : parents) {
      if (Str(p, "controllerName") != kControllerName) continue;
      ++ours;
      if (!c.type) continue;
      const json ref = p.value(policy ? "ancestorRef" : "parentRef", json::object());
      std::string group = ref.contains("group") ? Str(ref, "group") : "gateway.networking.k8s.io";
      std::string kind = ref.contains("kind") ? Str(ref, "kind") : "Gateway";
      std::string ns = ref.contains("namespace") ? Str(ref, "namespace") : c.ns;
      if (group != "gateway.networking.k8s.io" || kind != c.parent_kind || ns != c.parent_ns ||
          Str(ref, "name") != c.parent_name) {
        continue;
      }
      if (c.section_name && Str(ref, "sectionName") != *c.section_name) continue;
      ++matched;
      std::string w = where;
      if (ref.contains("sectionName"))
        absl::StrAppend(&w, " sectionName ", Str(ref, "sectionName"));
      std::string diff = CheckCondition(c, p.value("conditions", json()), gen, w);
      if (!diff.empty()) return diff;
    }
  }
  // X13: status.parents holds exactly the declared refs, so their number is checked whole.
  if (c.parent_count && ours != *c.parent_count) {
    return absl::StrCat(c.kind, " ", c.ns, "/", c.name, " has ", ours, " parents from ",
                        kControllerName, ", want ", *c.parent_count);
  }
  if (c.type && matched == 0) {
    return absl::StrCat(where, c.section_name ? " sectionName " + *c.section_name : "",
                        " has no status entry from ", kControllerName);
  }
  return "";
}

}  // namespace

const json* FindObject(const json& items, const std::string& kind, const std::string& ns,
                       const std::string& name) {
  if (!items.is_array()) return nullptr;
  for (const json& o : items) {
    if (Str(o, "kind") != kind) continue;
    const json meta = o.value("metadata", json::object());
    if (Str(meta, "name") == name && Str(meta, "namespace") == ns) return &o;
  }
  return nullptr;
}

std::string CheckStatus(const StatusCheck& check, const json& items) {
  const json* obj = FindObject(items, check.kind, check.ns, check.name);
  if (obj == nullptr) {
    return absl::StrCat(check.kind, " ", check.ns.empty() ? "" : check.ns + "/", check.name,
                        " is not reported by the agent");
  }
  if (check.kind == "Gateway" || check.kind == "ListenerSet") return CheckGateway(check, *obj);
  if (check.kind == "GatewayClass") {
    const json status = obj->value("status", json::object());
    return CheckCondition(check, status.is_object() ? status.value("conditions", json()) : json(),
                          Generation(*obj), absl::StrCat("GatewayClass ", check.name));
  }
  return CheckRoute(check, *obj);
}

}  // namespace xgate::conformance
