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
  secret.raw =
      nlohmann::json{{"apiVersion", "v1"},
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

// A Gateway that allows ListenerSets shows status.attachedListenerSets (0 included); one that
// does not shows no such key, as before ListenerSets. A ListenerSet of ours comes after the
// Gateways with its conditions and its entries in the Gateway listener shape.
TEST(ObjectListTest, ListenerSetsAndAttachedCount) {
  model::Store store;
  for (const char* name : {"allows", "plain"}) {
    model::Gateway gw;
    gw.meta.name = name;
    gw.meta.ns = "infra";
    store.gateways[{"infra", name}] = gw;
  }
  model::ListenerSet ls;
  ls.meta.name = "ls";
  ls.meta.ns = "apps";
  ls.meta.generation = 3;
  store.listener_sets[{"apps", "ls"}] = ls;

  binder::Statuses statuses;
  statuses.gateways[{"infra", "allows"}].attached_listener_sets = 0;
  statuses.gateways[{"infra", "plain"}];
  model::ListenerSetStatus& s = statuses.listener_sets[{"apps", "ls"}];
  s.conditions.push_back({"Accepted", "True", "Accepted", "ok", 3, "2026-01-01T00:00:00Z"});
  model::ListenerStatus entry;
  entry.name = "a";
  entry.attached_routes = 2;
  entry.supported_kinds.push_back({model::kGatewayGroup, "HTTPRoute"});
  s.listeners.push_back(entry);

  nlohmann::json list = ObjectList(store, statuses);
  ASSERT_EQ(list["items"].size(), 3u);
  const nlohmann::json& allows = list["items"][0];
  EXPECT_EQ(allows["metadata"]["name"], "allows");
  EXPECT_EQ(allows["status"]["attachedListenerSets"], 0);
  EXPECT_FALSE(list["items"][1]["status"].contains("attachedListenerSets"));
  const nlohmann::json& item = list["items"][2];
  EXPECT_EQ(item["kind"], "ListenerSet");
  EXPECT_EQ(item["apiVersion"], "gateway.networking.k8s.io/v1");
  EXPECT_EQ(item["metadata"]["generation"], 3);
  EXPECT_EQ(item["status"]["conditions"][0]["reason"], "Accepted");
  const nlohmann::json& l = item["status"]["listeners"][0];
  EXPECT_EQ(l["name"], "a");
  EXPECT_EQ(l["attachedRoutes"], 2);
  EXPECT_EQ(l["supportedKinds"][0]["kind"], "HTTPRoute");
  EXPECT_EQ(l["conditions"], nlohmann::json::array());
}

// lastTransitionTime of a ListenerSet's condition and of its entries' is kept while the
// status does not change, and is the new time when it does.
TEST(ObjectListTest, ListenerSetTransitionTimesCarried) {
  auto make = [](const std::string& status, const std::string& now) {
    binder::Statuses out;
    model::ListenerSetStatus& s = out.listener_sets[{"apps", "ls"}];
    s.conditions.push_back({"Accepted", status, "Accepted", "", 1, now});
    model::ListenerStatus entry;
    entry.name = "a";
    entry.conditions.push_back({"Programmed", "True", "Programmed", "", 1, now});
    s.listeners.push_back(entry);
    return out;
  };
  binder::Statuses previous = make("True", "2026-01-01T00:00:00Z");
  binder::Statuses next = make("False", "2026-01-02T00:00:00Z");
  CarryTransitionTimes(previous, next);
  const auto& s = next.listener_sets.at({"apps", "ls"});
  EXPECT_EQ(s.conditions[0].last_transition_time, "2026-01-02T00:00:00Z");
  EXPECT_EQ(s.listeners[0].conditions[0].last_transition_time, "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace xgate::status
