// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of a prime
// number of slots, each naming a backend, filled so each backend owns a share of slots
// proportional to its weight and a change of backends moves as few slots as possible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xgate::l4 {

struct MaglevBackend {
  std::string key;  // stable identity, e.g. "ns/name/10.0.0.1:80": seeds the permutation
  uint32_t weight = 0;
  uint32_t id = 0;  // what the table's slots hold
  bool operator==(const MaglevBackend&) const = default;
};

// Fills a table of `size` slots (a prime). Backends with weight 0 get no slots; with no
// weighted backend the table is empty. The result does not depend on the input order.
std::vector<uint32_t> BuildMaglevTable(std::vector<MaglevBackend> backends, uint32_t size);

// The two hashes that seed one backend's permutation (offset, skip).
uint64_t MaglevHash(const std::string& key, uint64_t seed);

}  // namespace xgate::l4
