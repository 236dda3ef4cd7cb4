// Hostname precedence (Gateway API): an exact name, else the longest matching wildcard, else
// "" (any); among equal patterns the first in config order. A scan does it for the few
// listeners of a port; a HostnameIndex does it for the virtual hosts of a listener (thousands)
// in time independent of their number.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"

namespace xgate::routing {

// "*.suffix" (at least one character after the star): matches names with that suffix.
bool IsWildcard(std::string_view pattern);

// The index of the pattern that serves `host` (no port, no trailing dot, any case), by a
// scan of `count` patterns (`pattern_of(i)`), or -1.
int SelectByHostname(size_t count, absl::FunctionRef<std::string_view(size_t)> pattern_of,
                     std::string_view host);

class HostnameIndex {
 public:
  HostnameIndex() = default;
  // Patterns in config order; the index keeps no reference to them.
  explicit HostnameIndex(const std::vector<std::string_view>& patterns);

  // The same answer as SelectByHostname over the patterns given.
  int Find(std::string_view host) const;

 private:
  absl::flat_hash_map<std::string, int> exact_;  // lowercased name -> first index
  // "*.example.com" by its lowercased ".example.com" -> first index
  absl::flat_hash_map<std::string, int> dotted_wildcards_;
  // Wildcards whose suffix starts with no dot ("*foo.com"): scanned, (pattern, index).
  std::vector<std::pair<std::string, int>> other_wildcards_;
  int any_ = -1;
};

}  // namespace xgate::routing
