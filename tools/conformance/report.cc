#include "tools/conformance/report.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

namespace xgate::conformance {
namespace {

struct Tally {
  int passed = 0;
  int failed = 0;
  std::vector<std::string> failed_tests;
  std::set<std::string> features;     // features this part's cases are for
  std::set<std::string> unsupported;  // of those, features with a failing case
};

void EmitPart(YAML::Emitter& e, const Tally& t, bool extended) {
  e << YAML::BeginMap;
  e << YAML::Key << "result" << YAML::Value
    << (t.failed == 0 ? "success" : (t.passed == 0 ? "failure" : "partial"));
  e << YAML::Key << "statistics" << YAML::Value << YAML::BeginMap << YAML::Key << "Passed"
    << YAML::Value << t.passed << YAML::Key << "Failed" << YAML::Value << t.failed << YAML::Key
    << "Skipped" << YAML::Value << 0 << YAML::EndMap;
  if (!t.failed_tests.empty()) {
    e << YAML::Key << "failedTests" << YAML::Value << YAML::BeginSeq;
    for (const std::string& n : t.failed_tests) e << n;
    e << YAML::EndSeq;
  }
  if (extended) {
    std::vector<std::string> supported;
    for (const std::string& f : t.features) {
      if (!t.unsupported.contains(f)) supported.push_back(f);
    }
    e << YAML::Key << "supportedFeatures" << YAML::Value << YAML::BeginSeq;
    for (const std::string& f : supported) e << f;
    e << YAML::EndSeq;
    if (!t.unsupported.empty()) {
      e << YAML::Key << "unsupportedFeatures" << YAML::Value << YAML::BeginSeq;
      for (const std::string& f : t.unsupported) e << f;
      e << YAML::EndSeq;
    }
  }
  e << YAML::EndMap;
}

}  // namespace

std::string ProfileOf(const CaseResult& r) {
  std::vector<std::string> all = r.features;
  all.push_back(r.feature);
  auto has = [&](const char* f) { return std::find(all.begin(), all.end(), f) != all.end(); };
  if (has("TLSRoute")) return "GATEWAY-TLS";
  if (has("TCPRoute")) return "GATEWAY-TCP";
  if (has("UDPRoute")) return "GATEWAY-UDP";
  if (has("GRPCRoute")) return "GATEWAY-GRPC";
  return "GATEWAY-HTTP";
}

std::string ReportYaml(const std::vector<CaseResult>& results, const std::string& date) {
  std::map<std::string, std::pair<Tally, Tally>> profiles;  // core, extended
  std::map<std::string, std::pair<int, int>> features;      // passed, failed
  for (const CaseResult& r : results) {
    auto& [core, ext] = profiles[ProfileOf(r)];
    Tally& t = r.support == "extended" ? ext : core;
    (r.passed ? t.passed : t.failed)++;
    if (!r.passed) t.failed_tests.push_back(r.name);
    if (!r.feature.empty()) {
      t.features.insert(r.feature);
      if (!r.passed) t.unsupported.insert(r.feature);
      (r.passed ? features[r.feature].first : features[r.feature].second)++;
    }
  }
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "apiVersion" << YAML::Value << "gateway.networking.k8s.io/v1";
  e << YAML::Key << "kind" << YAML::Value << "ConformanceReport";
  e << YAML::Key << "date" << YAML::Value << date;
  e << YAML::Key << "gatewayAPIVersion" << YAML::Value << "v1.3.0";
  e << YAML::Key << "gatewayAPIChannel" << YAML::Value << "experimental";
  e << YAML::Key << "implementation" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "organization" << YAML::Value << "xgate";
  e << YAML::Key << "project" << YAML::Value << "xgate";
  e << YAML::Key << "version" << YAML::Value << "dev";
  e << YAML::Key << "contact" << YAML::Value << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
  e << YAML::EndMap;
  e << YAML::Key << "mode" << YAML::Value << "default";
  e << YAML::Key << "profiles" << YAML::Value << YAML::BeginSeq;
  for (const auto& [name, parts] : profiles) {
    e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name;
    if (parts.first.passed + parts.first.failed > 0) {
      e << YAML::Key << "core" << YAML::Value;
      EmitPart(e, parts.first, false);
    }
    if (parts.second.passed + parts.second.failed > 0) {
      e << YAML::Key << "extended" << YAML::Value;
      EmitPart(e, parts.second, true);
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "features" << YAML::Value << YAML::BeginSeq;
  for (const auto& [name, pf] : features) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name << YAML::Key
      << "result" << YAML::Value << (pf.second == 0 ? "success" : "failure") << YAML::Key
      << "passed" << YAML::Value << pf.first << YAML::Key << "failed" << YAML::Value << pf.second
      << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "cases" << YAML::Value << YAML::BeginSeq;
  for (const CaseResult& r : results) {
    e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << r.name << YAML::Key << "feature"
      << YAML::Value << r.feature << YAML::Key << "support" << YAML::Value << r.support << YAML::Key
      << "result" << YAML::Value << (r.passed ? "success" : "failure");
    if (!r.passed) e << YAML::Key << "reason" << YAML::Value << r.reason;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace xgate::conformance
