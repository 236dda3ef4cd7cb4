// BackendTLSPolicy (gateway.networking.k8s.io/v1) and the core ConfigMap it reads its CA
// bundles from, with the CRD's validation rules.
#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"

namespace xgate::model {
namespace {

// group (empty: core), kind and name, as both targetRefs and caCertificateRefs have them.
template <typename Ref>
void DecodeLocalRef(const Node& node, Ref& ref) {
  ref.group = node.StrOr("group", "");
  CheckGroup(node.PathOf("group"), ref.group);
  ref.kind = node.Str("kind");
  CheckKindName(node.PathOf("kind"), ref.kind);
  ref.name = node.Str("name");
  CheckDnsSubdomain(node.PathOf("name"), ref.name);
}

PolicyTargetReference DecodeTargetRef(const Node& node) {
  PolicyTargetReference ref;
  DecodeLocalRef(node, ref);
  ref.section_name = node.OptStr("sectionName");
  if (ref.section_name && ref.section_name->empty()) ref.section_name.reset();
  if (ref.section_name) CheckSectionName(node.PathOf("sectionName"), *ref.section_name);
  return ref;
}

// The CRD's rules on targetRefs: a target named twice needs distinct, non-empty
// sectionNames.
void CheckDistinctTargets(const Node& spec, const std::vector<PolicyTargetReference>& refs) {
  for (size_t i = 0; i < refs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const auto& a = refs[i];
      const auto& b = refs[j];
      if (a.group != b.group || a.kind != b.kind || a.name != b.name) continue;
      std::string path = absl::StrCat(spec.PathOf("targetRefs"), "[", i, "]");
      if (!a.section_name || !b.section_name) {
        throw DecodeError(path,
                          "Invalid value: sectionName must be specified when targetRefs "
                          "includes 2 or more references to the same target");
      }
      if (*a.section_name == *b.section_name) {
        throw DecodeError(path,
                          "Invalid value: sectionName must be unique when targetRefs includes 2 "
                          "or more references to the same target");
      }
    }
  }
}

ObjectReference DecodeCARef(const Node& node) {
  ObjectReference ref;
  DecodeLocalRef(node, ref);
  return ref;
}

SubjectAltName DecodeSubjectAltName(const Node& node) {
  SubjectAltName san;
  std::string type = node.Str("type");
  CheckEnum(node.PathOf("type"), type, {"Hostname", "URI"});
  std::optional<std::string> hostname = node.OptStr("hostname");
  std::optional<std::string> uri = node.OptStr("uri");
  bool has_hostname = hostname && !hostname->empty();
  bool has_uri = uri && !uri->empty();
  if (type == "Hostname") {
    if (!has_hostname) {
      node.FailAt("hostname",
                  "Required value: SubjectAltName element must contain Hostname, if Type is set "
                  "to Hostname");
    }
    if (has_uri) {
      node.FailAt("uri",
                  "Invalid value: SubjectAltName element must not contain URI, if Type is not "
                  "set to URI");
    }
    CheckHostname(node.PathOf("hostname"), *hostname);
    san.type = SubjectAltName::Type::kHostname;
    san.value = *hostname;
    return san;
  }
  if (!has_uri) {
    node.FailAt("uri",
                "Required value: SubjectAltName element must contain URI, if Type is set to URI");
  }
  if (has_hostname) {
    node.FailAt("hostname",
                "Invalid value: SubjectAltName element must not contain Hostname, if Type is "
                "not set to Hostname");
  }
  // RFC 3986's regular expression, made to require a scheme and an authority (the CRD's).
  static const RE2 absolute_uri("(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\\?([^#]*))?(#(.*))?");
  if (uri->size() > 253 || !RE2::FullMatch(*uri, absolute_uri)) {
    node.FailAt("uri", absl::StrCat("Invalid value: \"", *uri,
                                    "\": must be an absolute URI with a scheme and an authority "
                                    "(such as spiffe://cluster.local/ns/a/sa/b)"));
  }
  san.type = SubjectAltName::Type::kURI;
  san.value = *uri;
  return san;
}

BackendTLSPolicyValidation DecodeValidation(const Node& spec) {
  BackendTLSPolicyValidation out;
  Node v = spec.Child("validation");
  for (const Node& ref : v.Items("caCertificateRefs", 8)) {
    out.ca_certificate_refs.push_back(DecodeCARef(ref));
  }
  out.well_known_ca_certificates = v.OptStr("wellKnownCACertificates");
  if (out.well_known_ca_certificates && out.well_known_ca_certificates->empty()) {
    out.well_known_ca_certificates.reset();
  }
  if (out.well_known_ca_certificates) {
    static const RE2 re(
        "System|([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/"
        "([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])");
    if (out.well_known_ca_certificates->size() > 253 ||
        !RE2::FullMatch(*out.well_known_ca_certificates, re)) {
      v.FailAt("wellKnownCACertificates",
               absl::StrCat("Invalid value: \"", *out.well_known_ca_certificates,
                            "\": must be \"System\" or a domain-prefixed name"));
    }
  }
  bool refs = !out.ca_certificate_refs.empty();
  if (refs && out.well_known_ca_certificates) {
    v.FailAt("caCertificateRefs",
             "Invalid value: must not contain both CACertificateRefs and WellKnownCACertificates");
  }
  if (!refs && !out.well_known_ca_certificates) {
    v.FailAt("caCertificateRefs",
             "Required value: must specify either CACertificateRefs or WellKnownCACertificates");
  }
  out.hostname = v.Str("hostname");
  CheckPreciseHostname(v.PathOf("hostname"), out.hostname);
  for (const Node& san : v.Items("subjectAltNames", 5)) {
    out.subject_alt_names.push_back(DecodeSubjectAltName(san));
  }
  return out;
}

}  // namespace

void DecodeBackendTLSPolicy(const Node& root, BackendTLSPolicy& out) {
  Node spec = root.Child("spec");
  for (const Node& ref : spec.Items("targetRefs", 16, 1)) {
    out.target_refs.push_back(DecodeTargetRef(ref));
  }
  CheckDistinctTargets(spec, out.target_refs);
  out.validation = DecodeValidation(spec);
  out.options = spec.StrMap("options");
  if (out.options.size() > 16) spec.FailAt("options", "Too many: must have at most 16 items");
}

void DecodeConfigMap(const Node& root, ConfigMap& out) { out.data = root.StrMap("data"); }

}  // namespace xgate::model
