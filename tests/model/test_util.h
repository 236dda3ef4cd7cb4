// Helpers shared by the model tests.
#pragma once

#include <string>
#include <string_view>

#include "agent/model/loader.h"

namespace xgate::model::testing {

inline LoadResult Load(std::string_view yaml, const std::string& file = "test.yaml") {
  LoadResult r;
  LoadText(yaml, file, r);
  return r;
}

inline std::string Errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

}  // namespace xgate::model::testing
