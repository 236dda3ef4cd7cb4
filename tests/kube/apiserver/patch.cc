#include "tests/kube/apiserver/patch.h"

#include <string_view>

namespace xgate::kubetest {

using nlohmann::json;

json MergePatch(json target, const json& patch) {
  target.merge_patch(patch);
  return target;
}

namespace {

constexpr std::string_view kOrder = "$setElementOrder/";
constexpr std::string_view kDeletePrimitive = "$deleteFromPrimitiveList/";

bool IsDelete(const json& element) {
  return element.is_object() && element.value("$patch", "") == "delete";
}

// Merges list `patch` into `target` by `key`, then orders it as `order` says.
json MergeList(const json& target, const json& patch, const std::string& key, const json& order);

json Merge(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", "") == "replace") {
    json out = patch;
    out.erase("$patch");
    return out;
  }
  if (!target.is_object()) target = json::object();
  for (const auto& [k, v] : patch.items()) {
    if (k.rfind(kDeletePrimitive, 0) == 0) {
      std::string field = k.substr(kDeletePrimitive.size());
      json kept = json::array();
      for (const json& e : target.value(field, json::array()))
        if (std::find(v.begin(), v.end(), e) == v.end()) kept.push_back(e);
      target[field] = kept;
    }
  }
  for (const auto& [k, v] : patch.items()) {
    if (k.rfind("$", 0) == 0) continue;
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      target[k] = Merge(target.value(k, json::object()), v);
    } else if (v.is_array() && patch.contains(std::string(kOrder) + k)) {
      const json& order = patch[std::string(kOrder) + k];
      std::string key =
          order.empty() || !order[0].is_object() || order[0].empty() ? "" : order[0].begin().key();
      target[k] = key.empty() ? v : MergeList(target.value(k, json::array()), v, key, order);
    } else {
      target[k] = v;
    }
  }
  return target;
}

json MergeList(const json& target, const json& patch, const std::string& key, const json& order) {
  json merged = target.is_array() ? target : json::array();
  for (const json& p : patch) {
    auto same = [&](const json& e) {
      return e.is_object() && e.value(key, json()) == p.value(key, json());
    };
    auto it = std::find_if(merged.begin(), merged.end(), same);
    if (IsDelete(p)) {
      if (it != merged.end()) merged.erase(it);
    } else if (it != merged.end()) {
      *it = Merge(*it, p);
    } else {
      merged.push_back(Merge(json::object(), p));
    }
  }
  json ordered = json::array();
  for (const json& o : order) {
    for (const json& e : merged)
      if (e.is_object() && e.value(key, json()) == o.value(key, json())) ordered.push_back(e);
  }
  for (const json& e : merged) {
    bool listed = std::any_of(order.begin(), order.end(), [&](const json& o) {
      return e.is_object() && e.value(key, json()) == o.value(key, json());
    });
    if (!listed) ordered.push_back(e);
  }
  return ordered;
}

}  // namespace

json StrategicMergePatch(json target, const json& patch) { return Merge(std::move(target), patch); }

}  // namespace xgate::kubetest
