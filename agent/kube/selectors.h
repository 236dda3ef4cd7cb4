// Kubernetes selectors over objects as JSON: labelSelector (=, ==, !=, in, notin, exists,
// !exists; kubectl's -l) and fieldSelector (metadata.name and metadata.namespace, the fields
// every kind supports). The test API server's list and watch parameters, and xgatectl get -l.
#pragma once

#include <absl/status/statusor.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace xgate::kube {

class Selector {
 public:
  // InvalidArgument "unable to parse requirement: ..." (the API server's words) when bad.
  static absl::StatusOr<Selector> Labels(const std::string& text);
  static absl::StatusOr<Selector> Fields(const std::string& text);
  bool Matches(const nlohmann::json& object) const;

 private:
  enum class Op { kIn, kNotIn, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op;
    std::set<std::string> values;
  };
  bool fields_ = false;
  std::vector<Requirement> requirements_;
};

}  // namespace xgate::kube
