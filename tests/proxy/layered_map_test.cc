// LayeredMap: a chain of copies, each edited and settled as configs are, reads as a std::map
// edited the same way (random operations, many seeds); a copy never sees its original's edits.
#include "userspace-proxy/server/layered_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace xgate::proxy {
namespace {

using Model = std::map<std::string, int>;

void ExpectSame(const LayeredMap<int>& map, const Model& model, const std::string& where) {
  ASSERT_EQ(map.size(), model.size()) << where;
  Model seen;
  map.ForEach([&](const std::string& name, int value) {
    EXPECT_TRUE(seen.emplace(name, value).second) << where << ": " << name << " twice";
  });
  EXPECT_EQ(seen, model) << where;
  for (int k = 0; k < 60; ++k) {
    std::string name = absl::StrCat("c", k);
    auto it = model.find(name);
    const int* found = map.Find(name);
    if (it == model.end()) {
      EXPECT_EQ(found, nullptr) << where << ": " << name;
    } else {
      ASSERT_NE(found, nullptr) << where << ": " << name;
      EXPECT_EQ(*found, it->second) << where << ": " << name;
    }
  }
}

TEST(LayeredMap, ACopyEditedAndSettledReadsAsAMapEditedTheSameWay) {
  for (unsigned seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    LayeredMap<int> map;
    Model model;
    for (int step = 0; step < 200; ++step) {
      // The next config: a copy of the one before, which must not change.
      LayeredMap<int> next = map;
      Model next_model = model;
      for (int e = 0, n = pick(step % 25 == 0 ? 60 : 4); e < n; ++e) {
        std::string name = absl::StrCat("c", pick(60));
        if (pick(3) == 0) {
          next.Erase(name);
          next_model.erase(name);
        } else {
          int value = pick(1000);
          next.Set(name, std::make_shared<const int>(value));
          next_model[name] = value;
        }
      }
      if (pick(2) == 0) next.Settle();
      const std::string where = absl::StrCat("seed ", seed, " step ", step);
      ExpectSame(next, next_model, where);
      ExpectSame(map, model, where + " (the copy's original)");
      map = std::move(next);
      model = std::move(next_model);
    }
  }
}

}  // namespace
}  // namespace xgate::proxy
