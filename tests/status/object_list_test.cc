// What the agent shows of objects (status, `xgatectl check -o json|yaml`): a Secret's keys
// with their sizes, never their values.
#include <gtest/gtest.h>

#include "agent/status/status.h"

namespace xgate::status {
namespace {

TEST(ObjectListTest, SecretBodiesAreRedacted) {
  model::Store store;
  model::Secret secret;
  secret.meta.name = "cert";
  secret.meta.ns = "default";
  secret.type = "kubernetes.io/tls";
  secret.data = {{"tls.key", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n"}};
  secret.raw = {{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"type", "kubernetes.io/tls"},
                {"data", {{"tls.crt", "Q0VSVElGSUNBVEU="}, {"tls.key", "UFJJVkFURSBLRVk="}}},
                {"stringData", {{"extra", "s3cret value"}}}};
  store.secrets[{"default", "cert"}] = secret;

  nlohmann::json list = ObjectList(store, binder::Statuses{});
  ASSERT_EQ(list["items"].size(), 1u);
  const nlohmann::json& item = list["items"][0];
  std::string text = item.dump();
  for (const char* value : {"Q0VSVElGSUNBVEU=", "UFJJVkFURSBLRVk=", "s3cret value", "MIGHAgEA"}) {
    EXPECT_EQ(text.find(value), std::string::npos) << value << " in " << text;
  }
  EXPECT_EQ(item["data"]["tls.key"], "(redacted, 16 characters)");
  EXPECT_EQ(item["data"]["tls.crt"], "(redacted, 16 characters)");
  EXPECT_EQ(item["data"]["extra"], "(redacted, 12 characters)");
  EXPECT_FALSE(item.contains("stringData"));
  EXPECT_EQ(item["type"], "kubernetes.io/tls");
  EXPECT_EQ(item["metadata"]["name"], "cert");
}

}  // namespace
}  // namespace xgate::status
