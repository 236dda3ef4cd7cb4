// The test API server's own behaviour, over HTTPS with its CA: authentication, the RBAC of
// deploy/ for the agent's token, pagination, watch (bookmarks, 410 after compaction), the
// /status subresource and generation, optimistic concurrency, discovery of CRDs, restart.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/kube/server_process.h"

namespace xgate::kubetest {
namespace {

using nlohmann::json;

constexpr char kGateways[] = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways";

class ApiServerTest : public ::testing::Test {
 protected:
  ServerProcess server{{"--preload", XGATE_DEPLOY_DIR, "--history", "1000"}};
  std::string admin = server.Token("admin");
  std::string agent = server.Token("agent");

  void SetUp() override { ASSERT_TRUE(server.Ready()) << "see " << server.Dir() / "server.log"; }

  json Gateway(const std::string& name) {
    return {{"apiVersion", "gateway.networking.k8s.io/v1"},
            {"kind", "Gateway"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"gatewayClassName", "xgate"},
              {"listeners", {{{"name", "http"}, {"port", 80}, {"protocol", "HTTP"}}}}}},
            {"status", {{"conditions", json::array()}}}};
  }

  // The events of one watch request, read until the server ends it (timeoutSeconds).
  std::vector<json> WatchEvents(const std::string& path) {
    std::vector<json> events;
    std::string buffer;
    auto client = server.Client(admin);
    client->Get(path.c_str(), [&](const char* data, size_t n) {
      buffer.append(data, n);
      for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1))
        events.push_back(json::parse(buffer.substr(0, nl)));
      return true;
    });
    return events;
  }
};

TEST_F(ApiServerTest, RequestsWithoutAValidTokenAreUnauthorized) {
  for (const std::string token : {"", "not-a-token"}) {
    Reply r = Call(server, token, "GET", "/api/v1/namespaces");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body["kind"], "Status");
    EXPECT_EQ(r.body["reason"], "Unauthorized");
    EXPECT_EQ(r.body["code"], 401);
  }
  EXPECT_EQ(Call(server, admin, "GET", "/api/v1/namespaces").status, 200);
}

TEST_F(ApiServerTest, TheAgentMayDoExactlyWhatDeployRbacGrants) {
  struct Case {
    std::string method, path;
    int status;
  };
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "xgate-agent"}}}};
  std::vector<Case> cases = {
      {"GET", "/apis/gateway.networking.k8s.io/v1/gateways", 200},
      {"GET", "/apis/gateway.networking.k8s.io/v1/httproutes?watch=1&timeoutSeconds=0", 200},
      {"GET", "/api/v1/secrets", 200},
      {"GET", "/apis/discovery.k8s.io/v1/endpointslices", 200},
      {"GET", "/api/v1/configmaps", 200},  // BackendTLSPolicy CA bundles
      {"GET", "/api/v1/pods", 403},
      {"PUT", "/api/v1/namespaces/default/configmaps/ca", 403},
      {"POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways", 403},
      {"PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw", 403},
      // Allowed by the role, then not found: the request got past authorization.
      {"PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw/status", 404},
      // ListenerSets (v1): read, and their status written.
      {"GET", "/apis/gateway.networking.k8s.io/v1/listenersets", 200},
      {"GET", "/apis/gateway.networking.k8s.io/v1/listenersets?watch=1&timeoutSeconds=0", 200},
      {"PUT", "/apis/gateway.networking.k8s.io/v1/namespaces/default/listenersets/ls/status", 404},
      {"PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/listenersets/ls", 403},
      {"GET", "/apis/coordination.k8s.io/v1/namespaces/xgate-system/leases/xgate-agent", 404},
      {"GET", "/apis/coordination.k8s.io/v1/namespaces/xgate-system/leases", 403},
      {"GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/xgate-agent", 403},
      {"DELETE", "/apis/coordination.k8s.io/v1/namespaces/xgate-system/leases/xgate-agent", 403},
      {"GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 403},
  };
  for (const Case& c : cases) {
    Reply r = Call(server, agent, c.method, c.path, json::object(), "application/merge-patch+json");
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body.dump();
    if (c.status == 403) {
      EXPECT_EQ(r.body["reason"], "Forbidden");
      EXPECT_NE(r.body["message"].get<std::string>().find(
                    "User \"system:serviceaccount:xgate-system:xgate-agent\" cannot"),
                std::string::npos);
    }
  }
  Reply created = Call(server, agent, "POST",
                       "/apis/coordination.k8s.io/v1/namespaces/xgate-system/leases", lease);
  EXPECT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(
      Call(server, agent, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", lease)
          .status,
      403);
}

TEST_F(ApiServerTest, ListPagesWithLimitAndContinue) {
  std::set<std::string> want;
  for (int i = 0; i < 7; ++i) {
    std::string name = "cm-" + std::to_string(i);
    want.insert(name);
    json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}};
    ASSERT_EQ(Call(server, admin, "POST", "/api/v1/namespaces/default/configmaps", cm).status, 201);
  }
  std::set<std::string> seen;
  std::string cont;
  int pages = 0;
  do {
    Reply r = Call(server, admin, "GET",
                   "/api/v1/namespaces/default/configmaps?limit=3" +
                       (cont.empty() ? "" : "&continue=" + cont));
    ASSERT_EQ(r.status, 200);
    EXPECT_LE(r.body["items"].size(), 3u);
    for (const json& item : r.body["items"]) {
      EXPECT_FALSE(item.contains("kind"));  // core list items carry no kind, as the real ones
      EXPECT_TRUE(seen.insert(item["metadata"]["name"]).second);
    }
    cont = r.body["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(pages, 3);
}

TEST_F(ApiServerTest, WatchStreamsChangesAndBookmarksThenGoneAfterCompaction) {
  Reply list = Call(server, admin, "GET", kGateways);
  std::string rv = list.body["metadata"]["resourceVersion"];
  std::thread writer([&] {
    Call(server, admin, "POST", kGateways, Gateway("gw1"));
    Call(server, admin, "DELETE", std::string(kGateways) + "/gw1");
  });
  auto events =
      WatchEvents(std::string(kGateways) +
                  "?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=" + rv);
  writer.join();
  std::vector<std::string> types;
  for (const json& e : events) types.push_back(e["type"]);
  ASSERT_GE(types.size(), 3u);
  EXPECT_EQ(types[0], "ADDED");
  EXPECT_EQ(events[0]["object"]["kind"], "Gateway");
  EXPECT_EQ(types[1], "DELETED");
  EXPECT_NE(std::find(types.begin(), types.end(), "BOOKMARK"), types.end());

  ASSERT_EQ(Call(server, admin, "POST", "/xgate-test/compact").status, 200);
  EXPECT_EQ(Call(server, agent, "POST", "/xgate-test/compact").status, 403);
  auto gone =
      WatchEvents(std::string(kGateways) + "?watch=1&timeoutSeconds=2&resourceVersion=" + rv);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0]["type"], "ERROR");
  EXPECT_EQ(gone[0]["object"]["code"], 410);
  EXPECT_EQ(gone[0]["object"]["reason"], "Expired");
}

TEST_F(ApiServerTest, StatusSubresourceAndGeneration) {
  Reply created = Call(server, admin, "POST", kGateways, Gateway("gw"));
  ASSERT_EQ(created.status, 201);
  EXPECT_FALSE(created.body.contains("status"));  // create ignores status
  EXPECT_EQ(created.body["metadata"]["generation"], 1);
  std::string path = std::string(kGateways) + "/gw";

  json status = {{"status", {{"conditions", {{{"type", "Accepted"}, {"status", "True"}}}}}}};
  Reply patched =
      Call(server, admin, "PATCH", path + "/status", status, "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["status"], status["status"]);
  EXPECT_EQ(patched.body["metadata"]["generation"], 1);

  json main = patched.body;
  main["status"] = json::object();            // ignored by the main resource
  main["metadata"]["labels"] = {{"a", "b"}};  // metadata only: no new generation
  Reply labelled = Call(server, admin, "PUT", path, main);
  ASSERT_EQ(labelled.status, 200);
  EXPECT_EQ(labelled.body["status"], status["status"]);
  EXPECT_EQ(labelled.body["metadata"]["generation"], 1);

  json spec = {
      {"spec", {{"listeners", {{{"name", "http"}, {"port", 8080}, {"protocol", "HTTP"}}}}}}};
  Reply moved = Call(server, admin, "PATCH", path, spec, "application/merge-patch+json");
  EXPECT_EQ(moved.body["metadata"]["generation"], 2);
  Reply spec_on_status =
      Call(server, admin, "PATCH", path + "/status", {{"spec", {{"gatewayClassName", "other"}}}},
           "application/merge-patch+json");
  EXPECT_EQ(spec_on_status.body["spec"]["gatewayClassName"], "xgate");  // /status ignores spec
}

TEST_F(ApiServerTest, JsonPatchOnACustomResource) {
  ASSERT_EQ(Call(server, admin, "POST", kGateways, Gateway("gw")).status, 201);
  std::string path = std::string(kGateways) + "/gw";
  json add = json::array({{{"op", "add"},
                           {"path", "/spec/listeners/-"},
                           {"value", {{"name", "alt"}, {"port", 8080}, {"protocol", "HTTP"}}}}});
  Reply added = Call(server, admin, "PATCH", path, add, "application/json-patch+json");
  ASSERT_EQ(added.status, 200) << added.body.dump();
  EXPECT_EQ(added.body["spec"]["listeners"][1]["port"], 8080);
  EXPECT_EQ(added.body["metadata"]["generation"], 2);

  json failing_test = json::array(
      {{{"op", "test"}, {"path", "/spec/gatewayClassName"}, {"value", "not-this-one"}}});
  Reply refused = Call(server, admin, "PATCH", path, failing_test, "application/json-patch+json");
  EXPECT_EQ(refused.status, 422);
  Reply not_a_list =
      Call(server, admin, "PATCH", path, json::object(), "application/json-patch+json");
  EXPECT_EQ(not_a_list.status, 400);
  json stale =
      json::array({{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", "1"}},
                   {{"op", "replace"}, {"path", "/spec/gatewayClassName"}, {"value", "other"}}});
  EXPECT_EQ(Call(server, admin, "PATCH", path, stale, "application/json-patch+json").status, 409);
  EXPECT_EQ(Call(server, admin, "GET", path).body["spec"]["gatewayClassName"], "xgate");
}

TEST_F(ApiServerTest, StaleResourceVersionConflicts) {
  Reply created = Call(server, admin, "POST", kGateways, Gateway("gw"));
  json stale = created.body;
  json fresh = created.body;
  fresh["spec"]["gatewayClassName"] = "a";
  ASSERT_EQ(Call(server, admin, "PUT", std::string(kGateways) + "/gw", fresh).status, 200);
  stale["spec"]["gatewayClassName"] = "b";
  Reply conflict = Call(server, admin, "PUT", std::string(kGateways) + "/gw", stale);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body["reason"], "Conflict");
  EXPECT_EQ(Call(server, admin, "POST", kGateways, Gateway("gw")).body["reason"], "AlreadyExists");
}

TEST_F(ApiServerTest, DiscoveryFollowsCrds) {
  Reply group = Call(server, agent, "GET", "/apis/gateway.networking.k8s.io/v1");
  ASSERT_EQ(group.status, 200);
  std::set<std::string> names;
  for (const json& r : group.body["resources"]) names.insert(r["name"]);
  for (const char* want :
       {"gateways", "gateways/status", "httproutes", "tcproutes", "udproutes", "tlsroutes"})
    EXPECT_TRUE(names.count(want)) << want;
  std::string crd =
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tcproutes.gateway.networking.k8s.io";
  ASSERT_EQ(Call(server, admin, "DELETE", crd).status, 200);
  Reply after = Call(server, agent, "GET", "/apis/gateway.networking.k8s.io/v1");
  for (const json& r : after.body["resources"]) EXPECT_NE(r["name"], "tcproutes");
  EXPECT_EQ(Call(server, agent, "GET", "/apis/gateway.networking.k8s.io/v1/tcproutes").status, 404);
}

TEST_F(ApiServerTest, RestartsOnTheSamePortWithItsState) {
  ASSERT_EQ(Call(server, admin, "POST", kGateways, Gateway("kept")).status, 201);
  std::string url = server.Url();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(Call(server, admin, "GET", kGateways).status, 0);  // down
  ASSERT_TRUE(server.Restart());
  EXPECT_EQ(server.Url(), url);
  Reply kept = Call(server, admin, "GET", std::string(kGateways) + "/kept");
  EXPECT_EQ(kept.status, 200);
}

}  // namespace
}  // namespace xgate::kubetest
