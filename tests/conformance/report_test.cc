#include "tools/conformance/report.h"

#include <yaml-cpp/yaml.h>

#include "gtest/gtest.h"

namespace xgate::conformance {
namespace {

TEST(ConformanceReport, ProfilesAndFeatures) {
  std::vector<CaseResult> results = {
      {"httproute-simple", "HTTPRoute", "core", {"Gateway", "HTTPRoute"}, true, ""},
      {"httproute-mirror",
       "HTTPRouteRequestMirror",
       "extended",
       {"Gateway", "HTTPRoute"},
       false,
       "mirror x"},
      {"httproute-redirect",
       "HTTPRoutePortRedirect",
       "extended",
       {"Gateway", "HTTPRoute"},
       true,
       ""},
      {"tlsroute-simple", "TLSRoute", "core", {"Gateway", "TLSRoute"}, true, ""},
  };
  EXPECT_EQ(ProfileOf(results[0]), "GATEWAY-HTTP");
  EXPECT_EQ(ProfileOf(results[3]), "GATEWAY-TLS");
  YAML::Node r = YAML::Load(ReportYaml(results, "2026-01-01T00:00:00Z"));
  EXPECT_EQ(r["kind"].as<std::string>(), "ConformanceReport");
  ASSERT_EQ(r["profiles"].size(), 2u);
  YAML::Node http = r["profiles"][0];
  EXPECT_EQ(http["name"].as<std::string>(), "GATEWAY-HTTP");
  EXPECT_EQ(http["core"]["result"].as<std::string>(), "success");
  EXPECT_EQ(http["extended"]["result"].as<std::string>(), "partial");
  EXPECT_EQ(http["extended"]["statistics"]["Failed"].as<int>(), 1);
  EXPECT_EQ(http["extended"]["failedTests"][0].as<std::string>(), "httproute-mirror");
  EXPECT_EQ(http["extended"]["supportedFeatures"][0].as<std::string>(), "HTTPRoutePortRedirect");
  EXPECT_EQ(http["extended"]["unsupportedFeatures"][0].as<std::string>(), "HTTPRouteRequestMirror");
  EXPECT_EQ(r["cases"][1]["reason"].as<std::string>(), "mirror x");
  EXPECT_EQ(r["features"].size(), 4u);
}

}  // namespace
}  // namespace xgate::conformance
