#include "tools/conformance/manifests.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace xgate::conformance {
namespace {
// yaml-cpp throws when a missing key's node is asked its type; these do not.
bool HasScalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }
bool HasMap(const YAML::Node& n) { return n.IsDefined() && n.IsMap(); }
bool HasSequence(const YAML::Node& n) { return n.IsDefined() && n.IsSequence(); }
}  // namespace

bool IsClusterScoped(const std::string& kind) {
  return kind == "Namespace" || kind == "GatewayClass";
}

std::string Object::FileName() const {
  return absl::StrCat(absl::AsciiStrToLower(kind), ".", ns.empty() ? "_" : ns, ".", name, ".yaml");
}

absl::StatusOr<std::vector<Object>> SplitManifests(const std::string& text, const std::string& file,
                                                   int first_line) {
  std::vector<Object> out;
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::string doc;
  int doc_line = first_line;
  auto flush = [&](int next_line) -> absl::Status {
    std::string body = doc;
    doc.clear();
    int at = doc_line;
    doc_line = next_line;
    if (absl::StripAsciiWhitespace(body).empty()) return absl::OkStatus();
    YAML::Node n;
    try {
      n = YAML::Load(body);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", at + e.mark.line, ": manifest does not parse: ", e.msg));
    }
    if (n.IsNull()) return absl::OkStatus();  // comments only
    if (!n.IsMap() || !HasScalar(n["kind"]) || !HasScalar(n["apiVersion"]) ||
        !HasMap(n["metadata"]) || !HasScalar(n["metadata"]["name"])) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", at, ": a manifest needs apiVersion, kind and metadata.name"));
    }
    Object o;
    o.api_version = n["apiVersion"].Scalar();
    o.kind = n["kind"].Scalar();
    o.name = n["metadata"]["name"].Scalar();
    if (!IsClusterScoped(o.kind)) {
      o.ns =
          HasScalar(n["metadata"]["namespace"]) ? n["metadata"]["namespace"].Scalar() : "default";
    }
    o.text = body;
    out.push_back(std::move(o));
    return absl::OkStatus();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view l = absl::StripTrailingAsciiWhitespace(lines[i]);
    if (l == "---" || absl::StartsWith(l, "--- ")) {
      if (absl::Status st = flush(first_line + static_cast<int>(i) + 1); !st.ok()) return st;
      continue;
    }
    absl::StrAppend(&doc, lines[i], "\n");
  }
  if (absl::Status st = flush(0); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<Service>> ServicesOf(const std::vector<Object>& objects) {
  std::vector<Service> out;
  for (const Object& o : objects) {
    if (o.kind != "Service") continue;
    YAML::Node n = YAML::Load(o.text);
    Service s{o.ns, o.name, {}};
    YAML::Node echo = n["metadata"]["labels"]["xgate.dev/echo"];
    s.grpc = HasScalar(echo) && echo.Scalar() == "grpc";
    YAML::Node ports = n["spec"]["ports"];
    if (HasSequence(ports)) {
      for (const auto& p : ports) {
        ServicePort sp;
        sp.name = HasScalar(p["name"]) ? p["name"].Scalar() : "";
        sp.protocol = HasScalar(p["protocol"]) ? p["protocol"].Scalar() : "TCP";
        sp.app_protocol = HasScalar(p["appProtocol"]) ? p["appProtocol"].Scalar() : "";
        if (!HasScalar(p["port"]) || !absl::SimpleAtoi(p["port"].Scalar(), &sp.port)) {
          return absl::InvalidArgumentError(
              absl::StrCat("Service ", o.ns, "/", o.name, ": a port needs a number"));
        }
        sp.target_port = sp.port;
        if (HasScalar(p["targetPort"])) {
          int t = 0;
          if (absl::SimpleAtoi(p["targetPort"].Scalar(), &t) && t > 0) sp.target_port = t;
        }
        s.ports.push_back(sp);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

Object EndpointSliceFor(const Service& svc, const std::vector<std::string>& addresses) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "apiVersion" << YAML::Value << "discovery.k8s.io/v1";
  e << YAML::Key << "kind" << YAML::Value << "EndpointSlice";
  e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << svc.name + "-conformance";
  e << YAML::Key << "namespace" << YAML::Value << svc.ns;
  e << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "kubernetes.io/service-name" << YAML::Value << svc.name;
  e << YAML::EndMap << YAML::EndMap;
  e << YAML::Key << "addressType" << YAML::Value << "IPv4";
  e << YAML::Key << "endpoints" << YAML::Value << YAML::BeginSeq;
  for (size_t i = 0; i < addresses.size(); ++i) {
    e << YAML::BeginMap;
    e << YAML::Key << "addresses" << YAML::Value << YAML::Flow
      << std::vector<std::string>{addresses[i]};
    e << YAML::Key << "conditions" << YAML::Value << YAML::BeginMap << YAML::Key << "ready"
      << YAML::Value << true << YAML::EndMap;
    e << YAML::Key << "targetRef" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "kind" << YAML::Value << "Pod";
    e << YAML::Key << "namespace" << YAML::Value << svc.ns;
    e << YAML::Key << "name" << YAML::Value << absl::StrCat(svc.name, "-", i);
    e << YAML::EndMap << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
  for (const ServicePort& p : svc.ports) {
    e << YAML::BeginMap;
    if (!p.name.empty()) e << YAML::Key << "name" << YAML::Value << p.name;
    e << YAML::Key << "protocol" << YAML::Value << p.protocol;
    e << YAML::Key << "port" << YAML::Value << p.target_port;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return {"discovery.k8s.io/v1", "EndpointSlice", svc.ns, svc.name + "-conformance",
          std::string(e.c_str()) + "\n"};
}

Object TlsSecret(const std::string& ns, const std::string& name, const std::string& cert_pem,
                 const std::string& key_pem) {
  std::string text =
      absl::StrCat("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ", name, "\n  namespace: ", ns,
                   "\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ", absl::Base64Escape(cert_pem),
                   "\n  tls.key: ", absl::Base64Escape(key_pem), "\n");
  return {"v1", "Secret", ns, name, text};
}

Object CaConfigMapObject(const std::string& ns, const std::string& name,
                         const std::string& ca_pem) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind"
    << YAML::Value << "ConfigMap" << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap
    << YAML::Key << "name" << YAML::Value << name << YAML::Key << "namespace" << YAML::Value << ns
    << YAML::EndMap << YAML::Key << "data" << YAML::Value << YAML::BeginMap << YAML::Key << "ca.crt"
    << YAML::Value << YAML::Literal << ca_pem << YAML::EndMap << YAML::EndMap;
  return {"v1", "ConfigMap", ns, name, std::string(e.c_str()) + "\n"};
}

}  // namespace xgate::conformance
