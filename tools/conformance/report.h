// The run's results as a ConformanceReport-style YAML document (Gateway API's
// conformance report): implementation, profiles with core and extended results, and the
// result of each feature and case.
#pragma once

#include <string>
#include <vector>

#include "tools/conformance/runner.h"

namespace xgate::conformance {

// The profile a case belongs to, from the route kinds among its features.
std::string ProfileOf(const CaseResult& r);
std::string ReportYaml(const std::vector<CaseResult>& results, const std::string& date);

}  // namespace xgate::conformance
