// BackendTLSPolicy status written back to the API server: xgate's ancestors only, another
// controller's entries kept, ours dropped once no Gateway of ours routes to the Service.
#include <gtest/gtest.h>

#include "agent/kube/status_writer.h"
#include "agent/model/loader.h"
#include "tests/kube_status/gateway_objects.h"
#include "tests/kube_status/in_memory_api.h"

namespace xgate::kube {
namespace {

using nlohmann::json;
using testing::GatewayClassJson;
using testing::GatewayJson;
using testing::HTTPRouteJson;
using testing::InMemoryApi;
using testing::kClasses;
using testing::kGateways;
using testing::kHTTPRoutes;

const Resource kPolicies{"gateway.networking.k8s.io", "v1", "backendtlspolicies", true};
const Resource kServices{"", "v1", "services", true};

json PolicyJson() {
  json entry = testing::OtherControllersEntry();
  entry["ancestorRef"] = entry["parentRef"];
  entry.erase("parentRef");
  return {
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "BackendTLSPolicy"},
      {"metadata", {{"name", "tls"}, {"namespace", "default"}}},
      {"spec",
       {{"targetRefs", {{{"group", ""}, {"kind", "Service"}, {"name", "web"}}}},
        {"validation", {{"wellKnownCACertificates", "System"}, {"hostname", "web.example.com"}}}}},
      {"status", {{"ancestors", {entry}}}}};
}

class PolicyStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.Put(kClasses.Path("", "xgate"), GatewayClassJson("xgate", model::kControllerName));
    api_.Put(kGateways.Path("default", "gw"), GatewayJson("gw", "xgate"));
    api_.Put(kHTTPRoutes.Path("default", "route"), HTTPRouteJson("route", {"gw"}));
    api_.Put(kServices.Path("default", "web"),
             {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}, {"namespace", "default"}}},
              {"spec", {{"ports", {{{"name", "http"}, {"port", 8080}}}}}}});
    api_.Put(kPolicies.Path("default", "tls"), PolicyJson());
  }

  absl::Status BindAndWrite(StatusWriter& writer) {
    loaded_ = std::make_unique<model::LoadResult>();
    for (const std::string& path :
         {kClasses.Path("", "xgate"), kGateways.Path("default", "gw"),
          kHTTPRoutes.Path("default", "route"), kServices.Path("default", "web"),
          kPolicies.Path("default", "tls")}) {
      json object = api_.Object(path);
      if (!object.is_null()) model::LoadText(object.dump(), path, *loaded_);
    }
    EXPECT_TRUE(loaded_->errors.empty()) << loaded_->errors.front().ToString();
    binder::BindOptions options;
    options.now = "2026-01-01T00:00:00Z";
    bound_ = binder::Bind(loaded_->store, options);
    return writer.Write(loaded_->store, bound_.statuses);
  }

  json Ancestors() { return api_.Object(kPolicies.Path("default", "tls"))["status"]["ancestors"]; }

  InMemoryApi api_;
  std::unique_ptr<model::LoadResult> loaded_;
  binder::BindResult bound_;
};

TEST_F(PolicyStatusTest, OursBesideTheOtherControllersThenDroppedWhenNoLongerRouted) {
  StatusWriter writer(api_, {{model::Kind::kGatewayClass, kClasses},
                             {model::Kind::kGateway, kGateways},
                             {model::Kind::kHTTPRoute, kHTTPRoutes},
                             {model::Kind::kBackendTLSPolicy, kPolicies}});
  ASSERT_TRUE(BindAndWrite(writer).ok());
  json ancestors = Ancestors();
  ASSERT_EQ(ancestors.size(), 2u) << ancestors.dump();
  EXPECT_EQ(ancestors[0]["controllerName"], testing::kOtherController);
  EXPECT_EQ(ancestors[1]["controllerName"], model::kControllerName);
  EXPECT_EQ(ancestors[1]["ancestorRef"]["name"], "gw");
  EXPECT_EQ(ancestors[1]["ancestorRef"]["namespace"], "default");
  EXPECT_EQ(ancestors[1]["conditions"][0]["type"], "Accepted");
  EXPECT_EQ(ancestors[1]["conditions"][0]["status"], "True");

  int puts = api_.Calls("PUT status");
  ASSERT_TRUE(BindAndWrite(writer).ok());
  EXPECT_EQ(api_.Calls("PUT status"), puts) << "nothing changed: nothing written";

  // The route now names a Gateway that is not there: nothing of ours routes to web.
  api_.Put(kHTTPRoutes.Path("default", "route"), HTTPRouteJson("route", {"absent"}));
  ASSERT_TRUE(BindAndWrite(writer).ok());
  ancestors = Ancestors();
  ASSERT_EQ(ancestors.size(), 1u) << ancestors.dump();
  EXPECT_EQ(ancestors[0]["controllerName"], testing::kOtherController);
}

TEST(StatusResources, IncludeBackendTLSPolicyOnceServed) {
  std::vector<KindState> kinds(1);
  kinds[0].kind = "BackendTLSPolicy";
  kinds[0].api_version = "gateway.networking.k8s.io/v1";
  auto resources = StatusResources(kinds);
  ASSERT_EQ(resources.count(model::Kind::kBackendTLSPolicy), 1u);
  EXPECT_EQ(resources[model::Kind::kBackendTLSPolicy].plural, "backendtlspolicies");
}

}  // namespace
}  // namespace xgate::kube
