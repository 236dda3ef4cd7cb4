// ObjectMap against a std::map model: random writes over many seeds to maps that copy each
// other (and so share chunks), where neither side of a copy may see the other's writes.
#include "agent/model/object_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace xgate::model {
namespace {

struct Thing {
  struct {
    int64_t creation_index = 0;
  } meta;
};
using Key = std::pair<std::string, std::string>;
using Map = ObjectMap<Key, Thing>;
using Model = std::map<Key, int64_t>;  // key -> the object's creation_index

std::shared_ptr<Thing> Make(int64_t value) {
  auto t = std::make_shared<Thing>();
  t->meta.creation_index = value;
  return t;
}

// Every read of `map` against `model`.
void ExpectSame(const Map& map, const Model& model, std::mt19937_64& rng) {
  ASSERT_EQ(map.size(), model.size());
  ASSERT_EQ(map.empty(), model.empty());
  auto m = model.begin();
  for (const auto& [key, thing] : map) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(key, m->first);
    ASSERT_EQ(thing.meta.creation_index, m->second);
    ++m;
  }
  ASSERT_EQ(m, model.end());
  auto r = model.rbegin();
  for (auto it = map.end(); it != map.begin();) {
    --it;
    ASSERT_EQ(it->first, r->first);
    ++r;
  }
  int64_t max = -1;
  for (const auto& [key, value] : model) max = std::max(max, value);
  ASSERT_EQ(map.MaxCreationIndex(-1), max);
  for (int i = 0; i < 20; ++i) {
    Key key{rng() % 2 ? "a" : "b", std::to_string(rng() % 700)};
    auto in_model = model.find(key);
    ASSERT_EQ(map.contains(key), in_model != model.end());
    ASSERT_EQ(map.count(key), model.count(key));
    auto it = map.find(key);
    if (in_model == model.end()) {
      ASSERT_EQ(it, map.end());
      ASSERT_THROW(map.at(key), std::out_of_range);
    } else {
      ASSERT_EQ(it->second.meta.creation_index, in_model->second);
      ASSERT_EQ(map.at(key).meta.creation_index, in_model->second);
      ASSERT_EQ(it.shared().get(), &map.at(key));
    }
  }
}

// The keys at which `a` holds an object `b` does not hold at the same key.
std::set<Key> Changed(const Map& a, const Map& b) {
  std::set<Key> out;
  for (auto it = a.begin(); it != a.end(); ++it) {
    auto o = b.find(it->first);
    if (o == b.end() || o.shared() != it.shared()) out.insert(it->first);
  }
  return out;
}

void RandomOperations(uint64_t seed) {
  std::mt19937_64 rng(seed);
  constexpr int kMaps = 3;
  std::vector<Map> maps(kMaps);
  std::vector<Model> models(kMaps);
  int64_t next_value = 1;
  // Dense runs of keys now and then, so chunks fill, split and join.
  const int key_range = 50 + static_cast<int>(rng() % 650);
  auto random_key = [&] { return Key{rng() % 2 ? "a" : "b", std::to_string(rng() % key_range)}; };
  for (int step = 0; step < 500; ++step) {
    const int i = static_cast<int>(rng() % kMaps);
    Map& map = maps[i];
    Model& model = models[i];
    const uint64_t op = rng() % 100;
    if (op < 25) {
      Key key = random_key();
      const int64_t value = next_value++;
      auto [it, inserted] = map.emplace(key, *Make(value));
      ASSERT_EQ(inserted, model.emplace(key, value).second);
      ASSERT_EQ(it->first, key);
      ASSERT_EQ(it->second.meta.creation_index, model.at(key));
    } else if (op < 40) {
      Key key = random_key();
      const int64_t value = next_value++;
      map.Share(key, Make(value));
      model[key] = value;
    } else if (op < 55) {
      Key key = random_key();
      const int64_t value = next_value++;
      map.Mutable(key).meta.creation_index = value;
      model[key] = value;
    } else if (op < 70) {
      // A run of erases: chunks shrink and join.
      for (int n = 0, runs = static_cast<int>(rng() % 40); n < runs; ++n) {
        Key key = random_key();
        ASSERT_EQ(map.erase(key), model.erase(key));
      }
    } else if (op < 78) {
      // A run of appends in key order, as a load gives them.
      const int from = static_cast<int>(rng() % key_range);
      for (int n = from; n < from + 200; ++n) {
        Key key{"c", std::to_string(100000 + n)};
        const int64_t value = next_value++;
        map.Share(key, Make(value));
        model[key] = value;
      }
    } else if (op < 88) {
      const int j = static_cast<int>(rng() % kMaps);
      maps[j] = maps[i];
      models[j] = models[i];
    } else if (op < 97) {
      // Carry-like: every entry of `map` but the very objects of `other`, some written.
      const int j = static_cast<int>(rng() % kMaps);
      const Map other = maps[j];
      const std::set<Key> expected = i == j ? std::set<Key>() : Changed(map, other);
      std::set<Key> seen;
      map.JoinChanged(other, [&](Map::Slot& slot, const std::shared_ptr<Thing>* old) {
        seen.insert(slot.key());
        auto o = other.find(slot.key());
        ASSERT_EQ(old == nullptr, o == other.end());
        if (old != nullptr) {
          ASSERT_EQ(*old, o.shared());
        }
        ASSERT_EQ(slot->meta.creation_index, models[i].at(slot.key()));
        switch (rng() % 3) {
          case 0: {
            const int64_t value = next_value++;
            slot.Mutable().meta.creation_index = value;
            models[i][slot.key()] = value;
            break;
          }
          case 1:
            if (old != nullptr) {
              slot.Set(*old);
              models[i][slot.key()] = (*old)->meta.creation_index;
            }
            break;
          default:
            break;
        }
      });
      ASSERT_EQ(seen, expected);
    } else if (op < 99) {
      const int j = static_cast<int>(rng() % kMaps);
      const bool same_values = models[i] == models[j];
      ASSERT_EQ(map.Equals(maps[j],
                           [](const Thing& a, const Thing& b) {
                             return a.meta.creation_index == b.meta.creation_index;
                           }),
                same_values);
    } else {
      map.clear();
      model.clear();
    }
    for (int k = 0; k < kMaps; ++k) ExpectSame(maps[k], models[k], rng);
  }
}

TEST(ObjectMap, RandomOperationsMatchAStdMapOverManySeeds) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    SCOPED_TRACE(seed);
    RandomOperations(seed);
    if (HasFatalFailure()) return;
  }
}

Map Numbered(int n) {
  Map m;
  for (int i = 0; i < n; ++i) m.Share({"ns", std::to_string(100000 + i)}, Make(i));
  return m;
}

TEST(ObjectMap, ACopyAndItsOriginalDoNotSeeEachOthersWrites) {
  Map a = Numbered(1000);
  Map b = a;
  const Key k500{"ns", "100500"}, k7{"ns", "100007"};
  a.Mutable(k500).meta.creation_index = -5;
  b.Mutable(k500).meta.creation_index = -6;
  a.erase(k7);
  b.Share({"ns", "0"}, Make(-7));
  a.emplace({"zz", "new"}, *Make(-8));
  EXPECT_EQ(a.at(k500).meta.creation_index, -5);
  EXPECT_EQ(b.at(k500).meta.creation_index, -6);
  EXPECT_FALSE(a.contains(k7));
  EXPECT_TRUE(b.contains(k7));
  EXPECT_FALSE(a.contains({"ns", "0"}));
  EXPECT_EQ(b.at({"ns", "0"}).meta.creation_index, -7);
  EXPECT_TRUE(a.contains({"zz", "new"}));
  EXPECT_FALSE(b.contains({"zz", "new"}));
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(b.size(), 1001u);
  // Untouched entries are still the same objects in both.
  EXPECT_TRUE(a.SameObject(b, {"ns", "100999"}));
  EXPECT_FALSE(a.SameObject(b, k500));
}

TEST(ObjectMap, AnObjectNoOtherMapHoldsIsWrittenInPlace) {
  Map a = Numbered(300);
  const Key key{"ns", "100150"};
  const Thing* before = &a.at(key);
  a.Mutable(key).meta.creation_index = 9;
  EXPECT_EQ(&a.at(key), before);
  Map b = a;
  b.Mutable(key).meta.creation_index = 10;
  EXPECT_NE(&b.at(key), before);
  EXPECT_EQ(&a.at(key), before);
  EXPECT_EQ(a.at(key).meta.creation_index, 9);
}

TEST(ObjectMap, WritingEachEntryOfASharedMapWhileWalkingItWritesEachOnce) {
  Map a = Numbered(1000);
  const Map b = a;
  int walked = 0;
  for (const auto& [key, thing] : a) {
    a.Mutable(key).meta.creation_index = -1;
    ++walked;
  }
  EXPECT_EQ(walked, 1000);
  for (const auto& [key, thing] : a) EXPECT_EQ(thing.meta.creation_index, -1);
  EXPECT_EQ(b.MaxCreationIndex(-1), 999);
  EXPECT_EQ(a.MaxCreationIndex(-1), -1);
}

TEST(ObjectMap, JoinChangedVisitsOnlyWhatDiffersFromACopy) {
  Map previous = Numbered(10000);
  Map next = previous;
  next.Share({"ns", "100123"}, Make(-1));
  next.erase({"ns", "105000"});
  next.emplace({"ns", "109999a"}, *Make(-2));
  std::vector<Key> visited;
  next.JoinChanged(previous, [&](Map::Slot& slot, const std::shared_ptr<Thing>* old) {
    visited.push_back(slot.key());
    EXPECT_EQ(old == nullptr, slot.key().second == "109999a");
    slot.Mutable().meta.creation_index += 1000;
  });
  EXPECT_EQ(visited, (std::vector<Key>{{"ns", "100123"}, {"ns", "109999a"}}));
  EXPECT_EQ(next.at({"ns", "100123"}).meta.creation_index, 999);
  EXPECT_EQ(next.at({"ns", "109999a"}).meta.creation_index, 998);
  EXPECT_EQ(previous.at({"ns", "100123"}).meta.creation_index, 123);
  EXPECT_EQ(next.MaxCreationIndex(-1), 9999);
  EXPECT_EQ(previous.MaxCreationIndex(-1), 9999);
  next.Mutable({"ns", "100001"}).meta.creation_index = 20000;
  EXPECT_EQ(next.MaxCreationIndex(-1), 20000);
  EXPECT_EQ(previous.MaxCreationIndex(-1), 9999);
}

TEST(ObjectMap, EqualsComparesObjectsOnlyWhereTheyDiffer) {
  Map a = Numbered(5000);
  Map b = a;
  int compared = 0;
  auto same = [&](const Thing& x, const Thing& y) {
    ++compared;
    return x.meta.creation_index == y.meta.creation_index;
  };
  EXPECT_TRUE(a.Equals(b, same));
  b.Share({"ns", "102000"}, Make(2000));  // another object, equal
  EXPECT_TRUE(a.Equals(b, same));
  EXPECT_EQ(compared, 1);
  b.Share({"ns", "102001"}, Make(7));
  EXPECT_FALSE(a.Equals(b, same));
  b.Share({"ns", "102001"}, a.find({"ns", "102001"}).shared());
  b.erase({"ns", "100000"});
  EXPECT_FALSE(a.Equals(b, same));
  b.Share({"ns", "1"}, Make(0));  // as many entries again, another key
  EXPECT_FALSE(a.Equals(b, same));
}

}  // namespace
}  // namespace xgate::model
