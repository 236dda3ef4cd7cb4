// Every `status` check of the shared conformance cases (../shared/conformance, restated
// from the upstream Gateway API suite), evaluated on the binder alone: the base and the
// case's manifests are loaded, bound, and each expected condition, attachedRoutes,
// supportedKinds and listener list is compared; steps (apply/delete) are replayed with
// generations carried as the API server would.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "agent/compiler/compiler.h"
#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

namespace fs = std::filesystem;

std::string Describe(const YAML::Node& check) {
  YAML::Emitter out;
  out << YAML::Flow << check;
  return out.c_str();
}

void CheckConditions(const std::vector<model::Condition>& conditions, const YAML::Node& check,
                     int64_t generation, const std::string& what) {
  if (!check["type"]) return;
  const auto* c = FindCondition(conditions, check["type"].as<std::string>());
  ASSERT_NE(c, nullptr) << what;
  EXPECT_EQ(c->status, check["status"].as<std::string>())
      << what << " reason " << c->reason << ": " << c->message;
  if (check["reason"]) {
    EXPECT_EQ(c->reason, check["reason"].as<std::string>()) << what;
  }
  EXPECT_EQ(c->observed_generation,
            check["observedGeneration"] ? check["observedGeneration"].as<int64_t>() : generation)
      << what;
}

void CheckOne(const Bound& b, const YAML::Node& check) {
  const std::string what = Describe(check);
  const std::string kind = check["kind"].as<std::string>();
  const std::string ns = check["namespace"].as<std::string>("");
  const std::string name = check["name"].as<std::string>();
  const model::Store& store = b.loaded.store;
  if (kind == "GatewayClass") {
    auto it = b.result.statuses.gateway_classes.find({"", name});
    ASSERT_NE(it, b.result.statuses.gateway_classes.end()) << what;
    CheckConditions(it->second.conditions, check,
                    store.gateway_classes.at({"", name}).meta.generation, what);
    return;
  }
  if (kind == "Gateway") {
    const auto* gw = b.Gateway(ns, name);
    ASSERT_NE(gw, nullptr) << what;
    int64_t gen = store.gateways.at({ns, name}).meta.generation;
    if (check["listeners"]) {
      std::vector<std::string> names;
      for (const auto& l : gw->listeners) names.push_back(l.name);
      EXPECT_EQ(names, check["listeners"].as<std::vector<std::string>>()) << what;
    }
    if (!check["listener"]) {
      CheckConditions(gw->conditions, check, gen, what);
      return;
    }
    const auto* l = b.Listener(ns, name, check["listener"].as<std::string>());
    ASSERT_NE(l, nullptr) << what;
    CheckConditions(l->conditions, check, gen, what);
    if (check["attachedRoutes"]) {
      EXPECT_EQ(l->attached_routes, check["attachedRoutes"].as<int>()) << what;
    }
    if (check["supportedKinds"]) {
      std::vector<std::string> kinds;
      for (const auto& k : l->supported_kinds) kinds.push_back(k.kind);
      // FORMAT.md: each kind named is listed ([] means none); more may be (GRPCRoute).
      auto want = check["supportedKinds"].as<std::vector<std::string>>();
      if (want.empty()) {
        EXPECT_TRUE(kinds.empty()) << what;
      }
      for (const auto& k : want) {
        EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end()) << what << " " << k;
      }
    }
    return;
  }
  model::Kind route_kind = kind == "HTTPRoute"   ? model::Kind::kHTTPRoute
                           : kind == "TCPRoute"  ? model::Kind::kTCPRoute
                           : kind == "UDPRoute"  ? model::Kind::kUDPRoute
                           : kind == "GRPCRoute" ? model::Kind::kGRPCRoute
                                                 : model::Kind::kTLSRoute;
  const auto* route = b.Route(route_kind, ns, name);
  ASSERT_NE(route, nullptr) << what;
  const auto* obj = store.Find({route_kind, ns, name});
  ASSERT_NE(obj, nullptr) << what;
  std::string parent = check["parent"].as<std::string>();
  int matched = 0;
  for (const auto& p : route->parents) {
    if (p.parent_ref.ns.value_or(ns) + "/" + p.parent_ref.name != parent) continue;
    if (check["sectionName"] &&
        p.parent_ref.section_name.value_or("") != check["sectionName"].as<std::string>()) {
      continue;
    }
    ++matched;
    CheckConditions(p.conditions, check, obj->meta.generation, what);
  }
  EXPECT_GT(matched, 0) << what << ": no parent entry";
}

class ConformanceStatus : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceStatus, Holds) {
  const std::string dir = SharedDir() + "/conformance/";
  YAML::Node base = YAML::LoadFile(dir + "base.yaml");
  YAML::Node c = YAML::LoadFile(dir + "cases/" + GetParam() + ".yaml");
  Applied applied = ApplyCase(base, c);
  auto b = BindApplied(applied, nullptr);
  for (const auto& check : c["status"]) CheckOne(*b, check);
  // The base's Gateways alone are four programmed L7 ports: the case must compile too.
  auto snapshot = compiler::Compile(b->result, 1);
  EXPECT_GE(snapshot->l7.ports_size(), 4);
  EXPECT_EQ(snapshot->Summary().size(), snapshot->l4.size() + snapshot->l7.ports_size());
  int step = 0;
  for (const auto& s : c["steps"]) {
    SCOPED_TRACE("step " + std::to_string(step++));
    if (s["apply"]) applied.Apply(s["apply"].as<std::string>());
    for (const auto& d : s["delete"]) applied.Delete(d);
    auto next = BindApplied(applied, &b->loaded.store);
    b = std::move(next);
    for (const auto& check : s["status"]) CheckOne(*b, check);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceStatus, ::testing::ValuesIn(ConformanceCaseNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace xgate::testing
