#include "agent/l4/maglev.h"

#include <algorithm>

namespace xgate::l4 {
namespace {

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t MaglevHash(const std::string& key, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Mix64(seed);  // FNV-1a, then a finalizer
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

std::vector<uint32_t> BuildMaglevTable(std::vector<MaglevBackend> backends, uint32_t size) {
  std::erase_if(backends, [](const MaglevBackend& b) { return b.weight == 0; });
  if (backends.empty() || size < 2) return {};
  std::sort(backends.begin(), backends.end(),
            [](const MaglevBackend& a, const MaglevBackend& b) { return a.key < b.key; });

  const size_t n = backends.size();
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  uint32_t max_weight = 0;
  for (size_t i = 0; i < n; ++i) {
    offset[i] = MaglevHash(backends[i].key, 0x6d61676c) % size;
    skip[i] = MaglevHash(backends[i].key, 0x65763221) % (size - 1) + 1;
    max_weight = std::max(max_weight, backends[i].weight);
  }

  constexpr uint32_t kEmpty = UINT32_MAX;
  std::vector<uint32_t> owner(size, kEmpty);
  // Each round every backend earns its weight in credit; a backend takes its next preferred
  // free slot each time its credit reaches the largest weight, so turns follow weights.
  std::vector<uint64_t> credit(n, 0);
  uint32_t filled = 0;
  while (filled < size) {
    for (size_t i = 0; i < n && filled < size; ++i) {
      credit[i] += backends[i].weight;
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      uint64_t slot;
      do {
        slot = (offset[i] + next[i] * skip[i]) % size;
        ++next[i];
      } while (owner[slot] != kEmpty);
      owner[slot] = static_cast<uint32_t>(i);
      ++filled;
    }
  }
  std::vector<uint32_t> table(size);
  for (uint32_t s = 0; s < size; ++s) table[s] = backends[owner[s]].id;
  return table;
}

}  // namespace xgate::l4
