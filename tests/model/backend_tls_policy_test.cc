// BackendTLSPolicy and ConfigMap decoding: the v1 shape, and each CRD rule refused with the
// file, line and field.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

constexpr char kPolicy[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls, namespace: web}
spec:
  targetRefs:
  - {group: "", kind: Service, name: backend, sectionName: https}
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
    hostname: backend.example.com
    subjectAltNames:
    - {type: Hostname, hostname: "*.example.com"}
    - {type: URI, uri: "spiffe://cluster.local/ns/web/sa/backend"}
  options: {example.com/min-version: "1.3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: web}
data:
  ca.crt: |
    -----BEGIN CERTIFICATE-----
)";

TEST(BackendTLSPolicyDecode, ReadsEveryField) {
  LoadResult r = Load(kPolicy);
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_EQ(r.store.backend_tls_policies.size(), 1u);
  const BackendTLSPolicy& p = r.store.backend_tls_policies.at({"web", "tls"});
  ASSERT_EQ(p.target_refs.size(), 1u);
  EXPECT_EQ(p.target_refs[0].group, "");
  EXPECT_EQ(p.target_refs[0].kind, "Service");
  EXPECT_EQ(p.target_refs[0].name, "backend");
  EXPECT_EQ(p.target_refs[0].section_name, "https");
  ASSERT_EQ(p.validation.ca_certificate_refs.size(), 1u);
  EXPECT_EQ(p.validation.ca_certificate_refs[0].kind, "ConfigMap");
  EXPECT_EQ(p.validation.ca_certificate_refs[0].name, "ca");
  EXPECT_FALSE(p.validation.well_known_ca_certificates);
  EXPECT_EQ(p.validation.hostname, "backend.example.com");
  ASSERT_EQ(p.validation.subject_alt_names.size(), 2u);
  EXPECT_EQ(p.validation.subject_alt_names[0].type, SubjectAltName::Type::kHostname);
  EXPECT_EQ(p.validation.subject_alt_names[0].value, "*.example.com");
  EXPECT_EQ(p.validation.subject_alt_names[1].type, SubjectAltName::Type::kURI);
  EXPECT_EQ(p.validation.subject_alt_names[1].value, "spiffe://cluster.local/ns/web/sa/backend");
  EXPECT_EQ(p.options.at("example.com/min-version"), "1.3");
  const ConfigMap& cm = r.store.config_maps.at({"web", "ca"});
  EXPECT_EQ(cm.data.at("ca.crt"), "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(r.store.Find({Kind::kBackendTLSPolicy, "web", "tls"}), &p);
  EXPECT_EQ(r.store.Find({Kind::kConfigMap, "web", "ca"}), &cm);
}

TEST(BackendTLSPolicyDecode, SystemCAsAndOlderVersion) {
  LoadResult r = Load(R"(apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: {name: sys}
spec:
  targetRefs: [{group: "", kind: Service, name: backend}]
  validation: {wellKnownCACertificates: System, hostname: backend.example.com}
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const BackendTLSPolicy& p = r.store.backend_tls_policies.at({"default", "sys"});
  EXPECT_EQ(p.validation.well_known_ca_certificates, "System");
  EXPECT_TRUE(p.validation.ca_certificate_refs.empty());
  EXPECT_EQ(p.raw["apiVersion"], "gateway.networking.k8s.io/v1");
}

struct Refusal {
  const char* name;
  const char* spec;   // the policy's spec; the line marked "#!" is where the error points
  const char* field;  // field path
  const char* message;
};

class BackendTLSPolicyRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(BackendTLSPolicyRefusal, NamesFileLineAndField) {
  const Refusal& c = GetParam();
  std::string yaml = absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: bad, namespace: web}
spec:
)",
                                  c.spec, R"(---
apiVersion: v1
kind: ConfigMap
metadata: {name: still-loads, namespace: web}
)");
  int marked = 1;
  for (size_t i = 0, line = 1; i < yaml.size(); ++i) {
    if (yaml.compare(i, 2, "#!") == 0) marked = static_cast<int>(line);
    if (yaml[i] == '\n') ++line;
  }
  LoadResult r = Load(yaml, "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << yaml << "\n" << Errors(r);
  const LoadError& e = r.errors[0];
  EXPECT_EQ(e.pos.file, "bad.yaml");
  EXPECT_EQ(e.pos.line, marked) << e.ToString();
  EXPECT_EQ(e.field, c.field) << e.ToString();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << e.ToString();
  EXPECT_EQ(e.object, "BackendTLSPolicy web/bad");
  EXPECT_TRUE(r.store.backend_tls_policies.empty());
  EXPECT_EQ(r.store.config_maps.size(), 1u);
}

constexpr char kValidation[] =
    "  validation: {wellKnownCACertificates: System, hostname: a.example.com}\n";

INSTANTIATE_TEST_SUITE_P(
    Rules, BackendTLSPolicyRefusal,
    ::testing::Values(
        Refusal{"NoTargets",
                "  targetRefs: [] #!\n  validation: {wellKnownCACertificates: System, hostname: "
                "a.example.com}\n",
                "spec.targetRefs", "at least 1"},
        Refusal{"SameTargetWithoutSection",
                "  targetRefs:\n  - {group: \"\", kind: Service, name: s}\n  - {group: \"\", "
                "kind: Service, name: s} #!\n  validation: {wellKnownCACertificates: System, "
                "hostname: a.example.com}\n",
                "spec.targetRefs[1]", "sectionName must be specified"},
        Refusal{"SameTargetSameSection",
                "  targetRefs:\n  - {group: \"\", kind: Service, name: s, sectionName: a}\n  - "
                "{group: \"\", kind: Service, name: s, sectionName: a} #!\n  validation: "
                "{wellKnownCACertificates: System, hostname: a.example.com}\n",
                "spec.targetRefs[1]", "sectionName must be unique"},
        Refusal{"BothCASources",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "caCertificateRefs: [{group: \"\", kind: ConfigMap, name: ca}] #!\n    "
                "wellKnownCACertificates: System\n    hostname: a.example.com\n",
                "spec.validation.caCertificateRefs", "must not contain both"},
        Refusal{"NoCASource",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation: {hostname: "
                "a.example.com} #!\n",
                "spec.validation.caCertificateRefs", "must specify either"},
        Refusal{"BadWellKnown",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: Mozilla #!\n    hostname: a.example.com\n",
                "spec.validation.wellKnownCACertificates", "\"System\" or a domain-prefixed"},
        Refusal{"WildcardHostname",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: System\n    hostname: \"*.example.com\" #!\n",
                "spec.validation.hostname", "hostname"},
        Refusal{"SanHostnameMissing",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: System\n    hostname: a.example.com\n    "
                "subjectAltNames: [{type: Hostname}] #!\n",
                "spec.validation.subjectAltNames[0].hostname", "must contain Hostname"},
        Refusal{"SanUriWithHostname",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: System\n    hostname: a.example.com\n    "
                "subjectAltNames: [{type: URI, uri: \"spiffe://a/b\", hostname: a.b}] #!\n",
                "spec.validation.subjectAltNames[0].hostname", "must not contain Hostname"},
        Refusal{"SanRelativeUri",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: System\n    hostname: a.example.com\n    "
                "subjectAltNames: [{type: URI, uri: \"/relative\"}] #!\n",
                "spec.validation.subjectAltNames[0].uri", "absolute URI"},
        Refusal{"SanBadType",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "wellKnownCACertificates: System\n    hostname: a.example.com\n    "
                "subjectAltNames: [{type: IP, uri: \"x://y\"}] #!\n",
                "spec.validation.subjectAltNames[0].type", "Unsupported value"},
        Refusal{"CARefWithoutKind",
                "  targetRefs: [{group: \"\", kind: Service, name: s}]\n  validation:\n    "
                "caCertificateRefs: [{group: \"\", name: ca}] #!\n    hostname: a.example.com\n",
                "spec.validation.caCertificateRefs[0].kind", "Required value"}),
    [](const ::testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace xgate::model
