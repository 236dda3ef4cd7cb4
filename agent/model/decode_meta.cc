#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"

namespace xgate::model {

namespace {

bool ClusterScoped(Kind kind) { return kind == Kind::kGatewayClass || kind == Kind::kNamespace; }

void CheckLabelKey(const std::string& path, const std::string& key) {
  // [prefix/]name: prefix a DNS subdomain, name at most 63 of [A-Za-z0-9_.-].
  size_t slash = key.find('/');
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (slash != std::string::npos) CheckDnsSubdomain(path, key.substr(0, slash));
  bool ok =
      !name.empty() && name.size() <= 63 &&
      std::isalnum(static_cast<unsigned char>(name.front())) &&
      std::isalnum(static_cast<unsigned char>(name.back())) &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
          std::string::npos;
  if (!ok) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", key,
                                         "\": a label key must be at most 63 alphanumeric "
                                         "characters, '-', '_' or '.', with an optional prefix"));
  }
}

void CheckLabelValue(const std::string& path, const std::string& value) {
  static const RE2 re("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
  if (value.size() > 63 || !RE2::FullMatch(value, re)) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value,
                                         "\": a label value must be at most 63 alphanumeric "
                                         "characters, '-', '_' or '.', starting and ending with "
                                         "an alphanumeric character"));
  }
}

// Service names are RFC 1035 labels: they become DNS names.
void CheckServiceName(const std::string& path, const std::string& value) {
  CheckDnsLabel(path, value);
  if (!std::isalpha(static_cast<unsigned char>(value[0]))) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value,
                                         "\": a Service name must start with a letter "
                                         "(RFC 1035 label)"));
  }
}

}  // namespace

void DecodeMeta(const Node& root, Kind kind, ObjectMeta& meta) {
  Node md = root.Child("metadata");
  meta.name = md.Str("name");
  if (kind == Kind::kNamespace) {
    CheckDnsLabel(md.PathOf("name"), meta.name);
  } else if (kind == Kind::kService) {
    CheckServiceName(md.PathOf("name"), meta.name);
  } else {
    CheckDnsSubdomain(md.PathOf("name"), meta.name);
  }
  if (ClusterScoped(kind)) {
    meta.ns.clear();
    md.json().erase("namespace");
  } else {
    meta.ns = md.StrOr("namespace", "default");
    if (meta.ns.empty()) {
      meta.ns = "default";
      md.json()["namespace"] = meta.ns;
    }
    CheckDnsLabel(md.PathOf("namespace"), meta.ns);
  }
  meta.labels = md.StrMap("labels");
  for (const auto& [k, v] : meta.labels) {
    std::string p = md.PathOf("labels") + "." + k;
    CheckLabelKey(p, k);
    CheckLabelValue(p, v);
  }
  meta.annotations = md.StrMap("annotations");
  meta.generation = md.IntOr("generation", 1, 1, INT64_MAX);
  meta.creation_timestamp = md.OptStr("creationTimestamp").value_or("");
  meta.uid = md.OptStr("uid").value_or("");
}

LabelSelector DecodeLabelSelector(const Node& node) {
  LabelSelector sel;
  sel.match_labels = node.StrMap("matchLabels");
  for (const auto& [k, v] : sel.match_labels)
    CheckLabelKey(node.PathOf("matchLabels") + "." + k, k);
  for (const Node& e : node.Items("matchExpressions", 1000)) {
    LabelSelectorRequirement req;
    req.key = e.Str("key");
    CheckLabelKey(e.PathOf("key"), req.key);
    req.op = e.Str("operator");
    CheckEnum(e.PathOf("operator"), req.op, {"In", "NotIn", "Exists", "DoesNotExist"});
    req.values = e.StrList("values", 1000);
    bool needs_values = req.op == "In" || req.op == "NotIn";
    if (needs_values && req.values.empty()) {
      e.FailAt("values", "Required value: must be specified when `operator` is 'In' or 'NotIn'");
    }
    if (!needs_values && !req.values.empty()) {
      e.FailAt("values",
               "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    }
    sel.match_expressions.push_back(std::move(req));
  }
  return sel;
}

void DecodeService(const Node& root, Service& out) {
  auto spec = root.OptChild("spec");
  if (!spec) return;
  out.type = spec->StrOr("type", "ClusterIP");
  CheckEnum(spec->PathOf("type"), out.type,
            {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"});
  for (const Node& p : spec->Items("ports", 1000)) {
    ServicePort port;
    port.name = p.OptStr("name").value_or("");
    port.protocol = p.StrOr("protocol", "TCP");
    CheckEnum(p.PathOf("protocol"), port.protocol, {"TCP", "UDP", "SCTP"});
    port.port = static_cast<int>(p.Int("port", 1, 65535));
    if (p.Has("targetPort")) {
      const nlohmann::json& tp = p.json()["targetPort"];
      if (tp.is_number_integer()) {
        port.target_port = static_cast<int>(p.Int("targetPort", 1, 65535));
      } else {
        port.target_port_name = p.Str("targetPort");
      }
    }
    port.app_protocol = p.OptStr("appProtocol");
    out.ports.push_back(std::move(port));
  }
  if (spec->json()["ports"].is_array() && out.ports.size() > 1) {
    for (size_t i = 0; i < out.ports.size(); ++i) {
      if (out.ports[i].name.empty()) {
        throw DecodeError(absl::StrCat(spec->PathOf("ports"), "[", i, "].name"),
                          "Required value: must be given when a Service has several ports");
      }
    }
  }
}

void DecodeEndpointSlice(const Node& root, EndpointSlice& out) {
  out.address_type = root.Str("addressType");
  CheckEnum(root.PathOf("addressType"), out.address_type, {"IPv4", "IPv6", "FQDN"});
  auto it = out.meta.labels.find("kubernetes.io/service-name");
  if (it != out.meta.labels.end()) out.service_name = it->second;
  for (const Node& p : root.Items("ports", 100)) {
    EndpointPort port;
    port.name = p.OptStr("name").value_or("");
    port.protocol = p.StrOr("protocol", "TCP");
    CheckEnum(p.PathOf("protocol"), port.protocol, {"TCP", "UDP", "SCTP"});
    auto n = p.OptInt("port", 1, 65535);
    if (n) port.port = static_cast<int>(*n);
    out.ports.push_back(std::move(port));
  }
  for (const Node& e : root.Items("endpoints", 1000)) {
    Endpoint ep;
    ep.addresses = e.StrList("addresses", 100);
    if (ep.addresses.empty()) e.FailAt("addresses", "Required value");
    for (size_t i = 0; i < ep.addresses.size(); ++i) {
      const std::string& a = ep.addresses[i];
      unsigned char buf[16];
      bool ok = out.address_type == "FQDN" ||
                inet_pton(out.address_type == "IPv4" ? AF_INET : AF_INET6, a.c_str(), buf) == 1;
      if (!ok) {
        throw DecodeError(absl::StrCat(e.PathOf("addresses"), "[", i, "]"),
                          absl::StrCat("Invalid value: \"", a, "\": must be a valid ",
                                       out.address_type, " address"));
      }
    }
    if (auto c = e.OptChild("conditions")) {
      ep.ready = c->OptBool("ready").value_or(true);
      ep.terminating = c->OptBool("terminating").value_or(false);
    }
    ep.node_name = e.OptStr("nodeName");
    out.endpoints.push_back(std::move(ep));
  }
}

void DecodeSecret(const Node& root, Secret& out) {
  out.type = root.StrOr("type", "Opaque");
  for (const auto& [k, v] : root.StrMap("data")) {
    std::string decoded;
    if (!absl::Base64Unescape(v, &decoded)) {
      throw DecodeError(root.PathOf("data") + "." + k, "Invalid value: must be base64");
    }
    out.data[k] = std::move(decoded);
  }
  for (const auto& [k, v] : root.StrMap("stringData")) out.data[k] = v;
  if (out.type == "kubernetes.io/tls") {
    for (const char* key : {"tls.crt", "tls.key"}) {
      if (!out.data.count(key)) {
        root.FailAt("data", absl::StrCat("Required value: a kubernetes.io/tls Secret needs ", key));
      }
    }
  }
}

}  // namespace xgate::model
