#include "tools/conformance/manifests.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tools/conformance/case.h"
#include "tools/conformance/certs.h"

namespace xgate::conformance {
namespace {

TEST(ConformanceManifests, BaseObjectsAndServices) {
  absl::StatusOr<Base> base = LoadBase(XGATE_SHARED_DIR "/conformance/base.yaml");
  ASSERT_TRUE(base.ok()) << base.status();
  absl::StatusOr<std::vector<Object>> objs =
      SplitManifests(base->manifests, base->file, base->manifests_line);
  ASSERT_TRUE(objs.ok()) << objs.status();
  int gateways = 0;
  for (const Object& o : *objs) gateways += o.kind == "Gateway";
  EXPECT_EQ(gateways, 4);
  EXPECT_EQ((*objs)[0].Key(), "Namespace//gateway-conformance-infra");
  absl::StatusOr<std::vector<Service>> svcs = ServicesOf(*objs);
  ASSERT_TRUE(svcs.ok()) << svcs.status();
  ASSERT_EQ(svcs->size(), 9u);
  for (const Service& s : *svcs) {
    ASSERT_EQ(s.ports.size(), 1u) << s.name;
    if (s.name == "coredns") {
      EXPECT_EQ(s.ports[0].protocol, "UDP");
      EXPECT_EQ(s.ports[0].target_port, 53);  // no targetPort: the port
    } else if (s.name == "tls-backend") {
      EXPECT_EQ(s.ports[0].target_port, 8443);
    } else {
      EXPECT_EQ(s.ports[0].port, 8080);
      EXPECT_EQ(s.ports[0].target_port, 3000);
    }
  }
}

TEST(ConformanceManifests, SplitKeepsTextAndReportsLines) {
  absl::StatusOr<std::vector<Object>> objs = SplitManifests(
      "# comment only\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: "
      "n\nspec:\n"
      "  ports:\n  - port: 53\n    targetPort: \"0053\"\n---\n",
      "f.yaml", 10);
  ASSERT_TRUE(objs.ok()) << objs.status();
  ASSERT_EQ(objs->size(), 1u);
  EXPECT_NE((*objs)[0].text.find("targetPort: \"0053\""), std::string::npos);
  EXPECT_EQ((*objs)[0].FileName(), "service.n.a.yaml");
  absl::StatusOr<std::vector<Object>> bad =
      SplitManifests("apiVersion: v1\nkind: Service\n---\nkind: [\n", "f.yaml", 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("f.yaml:10: a manifest needs"), std::string::npos)
      << bad.status();
}

TEST(ConformanceManifests, EndpointSliceTakesTargetPorts) {
  Service svc{"ns", "web", {{"http", "TCP", 8080, 3000}, {"", "UDP", 53, 53}}};
  Object o = EndpointSliceFor(svc, {"198.18.16.2"});
  YAML::Node n = YAML::Load(o.text);
  EXPECT_EQ(n["kind"].as<std::string>(), "EndpointSlice");
  EXPECT_EQ(n["metadata"]["labels"]["kubernetes.io/service-name"].as<std::string>(), "web");
  EXPECT_EQ(n["addressType"].as<std::string>(), "IPv4");
  EXPECT_EQ(n["endpoints"][0]["addresses"][0].as<std::string>(), "198.18.16.2");
  EXPECT_TRUE(n["endpoints"][0]["conditions"]["ready"].as<bool>());
  EXPECT_EQ(n["ports"][0]["name"].as<std::string>(), "http");
  EXPECT_EQ(n["ports"][0]["port"].as<int>(), 3000);
  EXPECT_FALSE(n["ports"][1]["name"].IsDefined());
  EXPECT_EQ(n["ports"][1]["protocol"].as<std::string>(), "UDP");
}

TEST(ConformanceCerts, IssuedCertificateChainsToTheRunCaWithSans) {
  absl::StatusOr<CertAuthority> ca = CertAuthority::Create("test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<IssuedCert> cert = ca->Issue({"*", "*.org", "198.18.100.2"});
  ASSERT_TRUE(cert.ok()) << cert.status();
  Object secret = TlsSecret("ns", "s", cert->chain_pem, cert->key_pem);
  YAML::Node n = YAML::Load(secret.text);
  EXPECT_EQ(n["type"].as<std::string>(), "kubernetes.io/tls");
  std::string crt;
  ASSERT_TRUE(absl::Base64Unescape(n["data"]["tls.crt"].as<std::string>(), &crt));
  EXPECT_EQ(crt, cert->chain_pem);
  EXPECT_NE(crt.find(ca->ca_pem()), std::string::npos);  // the certificate, then the CA

  BIO* b = BIO_new_mem_buf(cert->chain_pem.data(), static_cast<int>(cert->chain_pem.size()));
  X509* leaf = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  b = BIO_new_mem_buf(ca->ca_pem().data(), static_cast<int>(ca->ca_pem().size()));
  X509* root = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ASSERT_NE(leaf, nullptr);
  ASSERT_NE(root, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  EXPECT_EQ(X509_verify_cert(ctx), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  EXPECT_EQ(X509_check_ip_asc(leaf, "198.18.100.2", 0), 1);
  EXPECT_NE(X509_check_ip_asc(leaf, "198.18.100.3", 0), 1);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  // Another CA's certificate does not verify against this one.
  absl::StatusOr<CertAuthority> other = CertAuthority::Create("other CA");
  ASSERT_TRUE(other.ok());
  b = BIO_new_mem_buf(other->ca_pem().data(), static_cast<int>(other->ca_pem().size()));
  X509* other_root = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  store = X509_STORE_new();
  X509_STORE_add_cert(store, other_root);
  ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  EXPECT_NE(X509_verify_cert(ctx), 1);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(other_root);
  X509_free(leaf);
  X509_free(root);
}

}  // namespace
}  // namespace xgate::conformance
