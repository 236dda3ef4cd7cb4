#include "agent/model/v1alpha1.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode_node.h"

namespace xgate::model {
namespace {

using nlohmann::json;

// Copies the lines of `from` and everything under it to `to`.
void Alias(LineMap& lines, const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, int>> add;
  for (auto it = lines.lower_bound(from); it != lines.end(); ++it) {
    const std::string& k = it->first;
    if (k.compare(0, from.size(), from) != 0) break;
    if (k.size() == from.size() || k[from.size()] == '.' || k[from.size()] == '[') {
      add.emplace_back(to + k.substr(from.size()), it->second);
    }
  }
  for (auto& [k, v] : add) lines.emplace(k, v);
}

std::string Idx(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

// The child `key` of `obj` when present and not null; throws unless it has the wanted type.
json* Get(json& obj, const std::string& path, const std::string& key, json::value_t type) {
  if (!obj.is_object()) throw DecodeError(path, "Invalid value: must be an object");
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  bool ok = it->type() == type;
  if (!ok) {
    const char* want = type == json::value_t::object  ? "an object"
                       : type == json::value_t::array ? "an array"
                                                      : "a string";
    throw DecodeError(path + "." + key, absl::StrCat("Invalid value: must be ", want));
  }
  return &*it;
}

json* GetObj(json& o, const std::string& p, const std::string& k) {
  return Get(o, p, k, json::value_t::object);
}
json* GetArr(json& o, const std::string& p, const std::string& k) {
  return Get(o, p, k, json::value_t::array);
}

std::string MatchType(const std::string& t) {
  if (t == "Prefix") return "PathPrefix";
  if (t == "ImplementationSpecific") return "RegularExpression";
  return t;
}

std::string Group(const std::string& g) {
  if (g == "core") return "";
  if (g == "networking.x-k8s.io") return kGatewayGroup;
  return g;
}

// {type, values: {name: value}} -> [{type, name, value}, ...]
json ConvertValueMatches(json& m, const std::string& path, const std::string& key, LineMap& lines) {
  json out = json::array();
  json* src = GetObj(m, path, key);
  if (!src) return out;
  std::string type = "Exact";
  if (json* t = Get(*src, path + "." + key, "type", json::value_t::string)) type = *t;
  json* values = GetObj(*src, path + "." + key, "values");
  if (!values) throw DecodeError(path + "." + key + ".values", "Required value");
  for (auto& [name, value] : values->items()) {
    std::string from = absl::StrCat(path, ".", key, ".values.", name);
    Alias(lines, from, Idx(path + "." + key, out.size()));
    if (!value.is_string()) {
      if (!value.is_number() && !value.is_boolean()) {
        throw DecodeError(from, "Invalid value: must be a string");
      }
    }
    out.push_back({{"type", MatchType(type)},
                   {"name", name},
                   {"value", value.is_string() ? value.get<std::string>() : value.dump()}});
  }
  return out;
}

json HeaderMapToList(const json& map) {
  json out = json::array();
  for (auto& [k, v] : map.items()) out.push_back({{"name", k}, {"value", v}});
  return out;
}

// forwardTo entry or requestMirror -> backendRef.
json ConvertForwardTarget(json& f, const std::string& path, bool weighted) {
  json out = json::object();
  if (json* svc = Get(f, path, "serviceName", json::value_t::string)) {
    out["group"] = "";
    out["kind"] = "Service";
    out["name"] = *svc;
  } else if (json* ref = GetObj(f, path, "backendRef")) {
    out["group"] = Group(ref->value("group", std::string()));
    out["kind"] = ref->value("kind", std::string());
    out["name"] = ref->value("name", std::string());
  } else {
    throw DecodeError(path + ".serviceName", "Required value: serviceName or backendRef");
  }
  if (f.contains("port")) {
    out["port"] = f["port"];
  } else {
    // v1alpha1 allowed no port (a single-port Service's port is used); v1 requires one.
    out[kV1alpha1PortFromServiceKey] = true;
  }
  if (weighted) out["weight"] = f.contains("weight") ? f["weight"] : json(1);
  return out;
}

// v1alpha1 filters (v0.3+ names, and the earlier ModifyRequestHeader / MirrorRequest /
// Custom spellings) -> v1 filters.
json ConvertFilters(json& owner, const std::string& path, LineMap& lines) {
  json out = json::array();
  json* filters = GetArr(owner, path, "filters");
  if (!filters) return out;
  for (size_t i = 0; i < filters->size(); ++i) {
    json& f = (*filters)[i];
    std::string p = Idx(path + ".filters", i);
    if (!f.is_object()) throw DecodeError(p, "Invalid value: must be an object");
    std::string type;
    if (json* t = Get(f, p, "type", json::value_t::string)) type = *t;
    json c;
    if (type == "RequestHeaderModifier" || type == "ModifyRequestHeader") {
      std::string field =
          type == "RequestHeaderModifier" ? "requestHeaderModifier" : "modifyRequestHeader";
      json* m = GetObj(f, p, field);
      if (!m) throw DecodeError(p + "." + field, "Required value");
      Alias(lines, p + "." + field, p + ".requestHeaderModifier");
      json mod = json::object();
      if (json* set = GetObj(*m, p + "." + field, "set")) mod["set"] = HeaderMapToList(*set);
      if (json* add = GetObj(*m, p + "." + field, "add")) mod["add"] = HeaderMapToList(*add);
      if (m->contains("remove")) mod["remove"] = (*m)["remove"];
      c = {{"type", "RequestHeaderModifier"}, {"requestHeaderModifier", mod}};
    } else if (type == "RequestMirror" || type == "MirrorRequest") {
      std::string field = type == "RequestMirror" ? "requestMirror" : "mirrorRequest";
      json* m = GetObj(f, p, field);
      if (!m) throw DecodeError(p + "." + field, "Required value");
      c = {{"type", "RequestMirror"},
           {"requestMirror", {{"backendRef", ConvertForwardTarget(*m, p + "." + field, false)}}}};
    } else if (type == "ImplementationSpecific" || type == "Custom") {
      c = {{"type", "ExtensionRef"}};
      if (json* e = GetObj(f, p, "extensionRef")) c["extensionRef"] = *e;
    } else {
      throw DecodeError(p + ".type",
                        absl::StrCat("Unsupported value: \"", type,
                                     "\": supported values: \"RequestHeaderModifier\", "
                                     "\"RequestMirror\", \"ImplementationSpecific\""));
    }
    out.push_back(std::move(c));
  }
  return out;
}

json ConvertForwardTo(json& rule, const std::string& path, LineMap& lines) {
  json out = json::array();
  json* fwd = GetArr(rule, path, "forwardTo");
  if (!fwd) return out;
  Alias(lines, path + ".forwardTo", path + ".backendRefs");
  for (size_t i = 0; i < fwd->size(); ++i) {
    json& f = (*fwd)[i];
    std::string p = Idx(path + ".forwardTo", i);
    if (!f.is_object()) throw DecodeError(p, "Invalid value: must be an object");
    json b = ConvertForwardTarget(f, p, true);
    json filters = ConvertFilters(f, p, lines);
    if (!filters.empty()) b["filters"] = filters;
    out.push_back(std::move(b));
  }
  return out;
}

void CheckNoMatchExtension(json& m, const std::string& path) {
  if (GetObj(m, path, "extensionRef")) {
    throw DecodeError(path + ".extensionRef",
                      "Forbidden: v1alpha1 match extensionRef has no v1 equivalent and is not "
                      "supported");
  }
}

// spec.gateways -> parentRefs or selector binding.
V1alpha1Binding ConvertRouteGateways(json& spec, LineMap& lines) {
  V1alpha1Binding binding;
  json* gw = GetObj(spec, "spec", "gateways");
  std::string allow = gw ? gw->value("allow", std::string("SameNamespace")) : "All";
  if (allow == "FromList") {
    json refs = json::array();
    json* list = GetArr(*gw, "spec.gateways", "gatewayRefs");
    if (!list || list->empty()) {
      throw DecodeError("spec.gateways.gatewayRefs",
                        "Required value: gatewayRefs must be specified when allow is FromList");
    }
    Alias(lines, "spec.gateways.gatewayRefs", "spec.parentRefs");
    for (auto& r : *list) {
      if (!r.is_object())
        throw DecodeError("spec.gateways.gatewayRefs", "Invalid value: must be objects");
      json ref = {{"group", kGatewayGroup}, {"kind", "Gateway"}};
      if (r.contains("name")) ref["name"] = r["name"];
      if (r.contains("namespace")) ref["namespace"] = r["namespace"];
      refs.push_back(std::move(ref));
    }
    spec["parentRefs"] = refs;
  } else if (allow == "All" || allow == "SameNamespace") {
    binding.selector_binding = true;
    binding.same_namespace_only = allow == "SameNamespace";
  } else {
    throw DecodeError(
        "spec.gateways.allow",
        absl::StrCat("Unsupported value: \"", allow,
                     "\": supported values: \"All\", \"FromList\", \"SameNamespace\""));
  }
  spec.erase("gateways");
  return binding;
}

void ConvertHTTPRoute(json& spec, LineMap& lines) {
  spec.erase("tls");
  json* rules = GetArr(spec, "spec", "rules");
  if (!rules) return;
  for (size_t i = 0; i < rules->size(); ++i) {
    json& r = (*rules)[i];
    std::string rp = Idx("spec.rules", i);
    if (!r.is_object()) throw DecodeError(rp, "Invalid value: must be an object");
    if (json* matches = GetArr(r, rp, "matches")) {
      for (size_t j = 0; j < matches->size(); ++j) {
        json& m = (*matches)[j];
        std::string mp = Idx(rp + ".matches", j);
        if (!m.is_object()) throw DecodeError(mp, "Invalid value: must be an object");
        CheckNoMatchExtension(m, mp);
        json* path = GetObj(m, mp, "path");
        json conv = {{"type", "PathPrefix"}, {"value", "/"}};
        if (path) {
          if (path->contains("type") && (*path)["type"].is_string()) {
            conv["type"] = MatchType((*path)["type"].get<std::string>());
          } else if (path->contains("type")) {
            conv["type"] = (*path)["type"];
          }
          if (path->contains("value")) conv["value"] = (*path)["value"];
        }
        json headers = ConvertValueMatches(m, mp, "headers", lines);
        json query = ConvertValueMatches(m, mp, "queryParams", lines);
        m = json{{"path", conv}};
        if (!headers.empty()) m["headers"] = headers;
        if (!query.empty()) m["queryParams"] = query;
      }
    }
    json filters = ConvertFilters(r, rp, lines);
    json backends = ConvertForwardTo(r, rp, lines);
    r.erase("forwardTo");
    if (filters.empty()) {
      r.erase("filters");
    } else {
      r["filters"] = filters;
    }
    if (!backends.empty()) r["backendRefs"] = backends;
  }
}

// TCPRoute, UDPRoute, TLSRoute rules: {matches, forwardTo} -> {backendRefs}; TLS SNIs
// become the route's hostnames.
void ConvertL4Route(Kind kind, json& spec, LineMap& lines) {
  json* rules = GetArr(spec, "spec", "rules");
  if (!rules) return;
  std::optional<std::set<std::string>> snis;
  for (size_t i = 0; i < rules->size(); ++i) {
    json& r = (*rules)[i];
    std::string rp = Idx("spec.rules", i);
    if (!r.is_object()) throw DecodeError(rp, "Invalid value: must be an object");
    std::set<std::string> rule_snis;
    if (json* matches = GetArr(r, rp, "matches")) {
      for (size_t j = 0; j < matches->size(); ++j) {
        json& m = (*matches)[j];
        std::string mp = Idx(rp + ".matches", j);
        CheckNoMatchExtension(m, mp);
        if (json* s = GetArr(m, mp, "snis"); s && kind == Kind::kTLSRoute) {
          for (auto& v : *s) {
            if (!v.is_string()) throw DecodeError(mp + ".snis", "Invalid value: must be strings");
            rule_snis.insert(v.get<std::string>());
          }
        }
      }
    }
    if (snis && *snis != rule_snis) {
      throw DecodeError(rp + ".matches",
                        "Invalid value: v1 TLSRoute hostnames apply to the whole route; every "
                        "rule must match the same SNIs");
    }
    snis = rule_snis;
    json backends = ConvertForwardTo(r, rp, lines);
    r = json{{"backendRefs", backends}};
  }
  if (snis && !snis->empty())
    spec["hostnames"] = json(std::vector<std::string>(snis->begin(), snis->end()));
}

std::string ListenerName(const json& l, size_t index, const std::set<std::string>& taken) {
  std::string proto = l.value("protocol", json("")).is_string() ? l.value("protocol", "") : "";
  bool simple =
      !proto.empty() &&
      proto.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
          std::string::npos;
  std::string port = l.contains("port") ? l["port"].dump() : "";
  std::string name =
      simple ? absl::AsciiStrToLower(proto) + "-" + port : absl::StrCat("listener-", index);
  if (taken.count(name)) name = absl::StrCat(name, "-", index);
  return name;
}

void ConvertGateway(json& spec, LineMap& lines) {
  json* listeners = GetArr(spec, "spec", "listeners");
  if (!listeners) return;
  std::set<std::string> names;
  for (size_t i = 0; i < listeners->size(); ++i) {
    json& l = (*listeners)[i];
    std::string lp = Idx("spec.listeners", i);
    if (!l.is_object()) throw DecodeError(lp, "Invalid value: must be an object");
    std::string name = ListenerName(l, i, names);
    names.insert(name);
    l["name"] = name;
    if (json* tls = GetObj(l, lp, "tls")) {
      tls->erase("routeOverride");
      if (json* ref = GetObj(*tls, lp + ".tls", "certificateRef")) {
        // An omitted or empty group and kind mean a core Secret.
        std::string kind = ref->value("kind", std::string());
        json conv = {{"group", Group(ref->value("group", std::string("core")))},
                     {"kind", kind.empty() ? std::string("Secret") : kind},
                     {"name", ref->value("name", std::string())}};
        if (ref->contains("namespace")) conv["namespace"] = (*ref)["namespace"];
        Alias(lines, lp + ".tls.certificateRef", lp + ".tls.certificateRefs[0]");
        (*tls)["certificateRefs"] = json::array({conv});
        tls->erase("certificateRef");
      }
    }
    json* routes = GetObj(l, lp, "routes");
    if (!routes) throw DecodeError(lp + ".routes", "Required value");
    Alias(lines, lp + ".routes", lp + ".allowedRoutes");
    json allowed = {{"namespaces", {{"from", "Same"}}}};
    if (json* ns = GetObj(*routes, lp + ".routes", "namespaces")) allowed["namespaces"] = *ns;
    if (routes->contains("kind")) {
      json k = {{"group", kGatewayGroup}, {"kind", (*routes)["kind"]}};
      // v1alpha1: an empty or omitted group means networking.x-k8s.io.
      if (json* g = Get(*routes, lp + ".routes", "group", json::value_t::string)) {
        k["group"] = g->get<std::string>().empty() ? std::string(kGatewayGroup)
                                                   : Group(g->get<std::string>());
      }
      allowed["kinds"] = json::array({k});
    }
    json* selector = GetObj(*routes, lp + ".routes", "selector");
    l[kV1alpha1RouteSelectorKey] = selector ? *selector : json::object();
    Alias(lines, lp + ".routes.selector", lp + "." + kV1alpha1RouteSelectorKey);
    l["allowedRoutes"] = allowed;
    l.erase("routes");
  }
}

}  // namespace

V1alpha1Binding ConvertV1alpha1(Kind kind, json& doc, LineMap& lines) {
  V1alpha1Binding binding;
  json* spec = GetObj(doc, "", "spec");
  if (!spec) return binding;
  switch (kind) {
    case Kind::kGatewayClass:
      if (spec->contains("controller")) {
        (*spec)["controllerName"] = (*spec)["controller"];
        spec->erase("controller");
        Alias(lines, "spec.controller", "spec.controllerName");
      }
      if (json* p = GetObj(*spec, "spec", "parametersRef")) p->erase("scope");
      break;
    case Kind::kGateway:
      ConvertGateway(*spec, lines);
      break;
    case Kind::kHTTPRoute:
      binding = ConvertRouteGateways(*spec, lines);
      ConvertHTTPRoute(*spec, lines);
      break;
    case Kind::kTCPRoute:
    case Kind::kUDPRoute:
    case Kind::kTLSRoute:
      binding = ConvertRouteGateways(*spec, lines);
      ConvertL4Route(kind, *spec, lines);
      break;
    default:
      break;
  }
  return binding;
}

}  // namespace xgate::model
