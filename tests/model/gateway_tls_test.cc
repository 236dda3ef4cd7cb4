// A Gateway's spec.tls (frontend client certificate validation, backend client certificate):
// the v1 shape, its defaults, and each CRD rule refused with the file and field.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

using Mode = FrontendTLSValidation::Mode;

std::string GatewayWithTls(const std::string& tls) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: xgate
  listeners: [{name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}]
  tls:
)",
                      tls);
}

TEST(GatewayTlsDecode, ReadsDefaultPerPortAndBackend) {
  LoadResult r = Load(GatewayWithTls(R"(    frontend:
      default:
        validation:
          caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
      perPort:
      - port: 8443
        tls:
          validation:
            mode: AllowInsecureFallback
            caCertificateRefs:
            - {group: "", kind: ConfigMap, name: other, namespace: web}
            - {group: example.com, kind: Bundle, name: b}
      - port: 9443
        tls: {}
    backend:
      clientCertificateRef: {name: client}
)"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"infra", "gw"});
  ASSERT_TRUE(gw.tls.frontend);
  const FrontendTLSConfig& f = *gw.tls.frontend;
  ASSERT_TRUE(f.default_validation);
  EXPECT_EQ(f.default_validation->mode, Mode::kAllowValidOnly);  // the CRD's default
  ASSERT_EQ(f.default_validation->ca_certificate_refs.size(), 1u);
  EXPECT_EQ(f.default_validation->ca_certificate_refs[0].kind, "ConfigMap");
  EXPECT_EQ(f.default_validation->ca_certificate_refs[0].name, "ca");
  EXPECT_FALSE(f.default_validation->ca_certificate_refs[0].ns);
  ASSERT_EQ(f.per_port.size(), 2u);
  const auto& p8443 = f.per_port.at(8443);
  ASSERT_TRUE(p8443);
  EXPECT_EQ(p8443->mode, Mode::kAllowInsecureFallback);
  ASSERT_EQ(p8443->ca_certificate_refs.size(), 2u);
  EXPECT_EQ(p8443->ca_certificate_refs[0].ns, "web");
  EXPECT_EQ(p8443->ca_certificate_refs[1].group, "example.com");
  EXPECT_FALSE(f.per_port.at(9443)) << "a perPort entry without validation";
  ASSERT_TRUE(gw.tls.backend_client_certificate);
  EXPECT_EQ(gw.tls.backend_client_certificate->kind, "Secret");
  EXPECT_EQ(gw.tls.backend_client_certificate->name, "client");
}

TEST(GatewayTlsDecode, NoTlsMeansNoValidation) {
  LoadResult r = Load(GatewayWithTls("    {}\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"infra", "gw"});
  EXPECT_FALSE(gw.tls.frontend);
  EXPECT_FALSE(gw.tls.backend_client_certificate);
}

struct Refusal {
  std::string name;
  std::string tls;
  std::string field;
  std::string message;
};

class GatewayTlsRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(GatewayTlsRefusal, NamesTheField) {
  const Refusal& c = GetParam();
  LoadResult r = Load(GatewayWithTls(c.tls), "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  const LoadError& e = r.errors[0];
  EXPECT_EQ(e.pos.file, "bad.yaml");
  EXPECT_EQ(e.field, c.field) << e.ToString();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << e.ToString();
  EXPECT_TRUE(r.store.gateways.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, GatewayTlsRefusal,
    ::testing::Values(
        Refusal{"NoDefault", "    frontend: {perPort: []}\n", "spec.tls.frontend.default",
                "Required value"},
        Refusal{"NoCaRefs", "    frontend: {default: {validation: {caCertificateRefs: []}}}\n",
                "spec.tls.frontend.default.validation.caCertificateRefs", "at least 1"},
        Refusal{"UnknownMode",
                "    frontend: {default: {validation: {mode: Never, caCertificateRefs: [{group: "
                "\"\", kind: ConfigMap, name: ca}]}}}\n",
                "spec.tls.frontend.default.validation.mode", "Unsupported value"},
        Refusal{"RefWithoutGroup",
                "    frontend: {default: {validation: {caCertificateRefs: [{kind: ConfigMap, "
                "name: ca}]}}}\n",
                "spec.tls.frontend.default.validation.caCertificateRefs[0].group",
                "Required value"},
        Refusal{"SamePortTwice",
                "    frontend:\n      default: {}\n      perPort:\n      - {port: 8443, tls: "
                "{}}\n      - {port: 8443, tls: {}}\n",
                "spec.tls.frontend.perPort", "must be unique"},
        Refusal{"PortOutOfRange",
                "    frontend:\n      default: {}\n      perPort: [{port: 0, "
                "tls: {}}]\n",
                "spec.tls.frontend.perPort[0].port", ""}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace xgate::model
