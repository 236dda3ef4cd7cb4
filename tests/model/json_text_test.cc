// CompactJson writes what nlohmann::json's dump() writes, for every kind of value.
#include "agent/model/json_text.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace xgate::model {
namespace {

using nlohmann::json;

// A random tree: every JSON type, strings with characters that are escaped, multi-byte
// UTF-8, and (when `invalid`) bytes that are not UTF-8.
json RandomValue(std::mt19937& rng, int depth, bool invalid) {
  auto pick = [&](uint32_t n) { return rng() % n; };
  static const std::string kPieces[] = {"a",  "name", "\"", "\\",   "\n",   "\t",   "\r",
                                        "\b", "\f",   "/",  "\x01", "\x1f", "\x7f", " ",
                                        "é",  "日本", "😀",  "{}",   "[,]",  ":"};
  auto text = [&] {
    std::string s;
    for (uint32_t i = pick(6); i > 0; --i) s += kPieces[pick(std::size(kPieces))];
    if (invalid && pick(4) == 0) s += pick(2) == 0 ? "\xff" : "\xc3";
    return s;
  };
  switch (depth > 4 ? 2 + pick(6) : pick(8)) {
    case 0: {
      json object = json::object();
      for (uint32_t i = pick(5); i > 0; --i) object[text()] = RandomValue(rng, depth + 1, invalid);
      return object;
    }
    case 1: {
      json array = json::array();
      for (uint32_t i = pick(5); i > 0; --i) array.push_back(RandomValue(rng, depth + 1, invalid));
      return array;
    }
    case 2:
      return text();
    case 3:
      return pick(2) == 0;
    case 4: {
      static const int64_t kInts[] = {0,
                                      1,
                                      -1,
                                      9,
                                      10,
                                      99,
                                      100,
                                      -100,
                                      8080,
                                      std::numeric_limits<int64_t>::max(),
                                      std::numeric_limits<int64_t>::min()};
      return pick(2) == 0 ? json(kInts[pick(std::size(kInts))])
                          : json(static_cast<int64_t>(rng()) - (1 << 30));
    }
    case 5:
      return pick(2) == 0 ? json(std::numeric_limits<uint64_t>::max()) : json(uint64_t{rng()});
    case 6: {
      static const double kFloats[] = {0.0, -0.0, 1.5, 0.1, 1e300, -2.5e-8, 3.0};
      return kFloats[pick(std::size(kFloats))];
    }
    default:
      return nullptr;
  }
}

TEST(CompactJson, WritesWhatDumpWrites) {
  std::mt19937 rng(15);
  for (int i = 0; i < 3000; ++i) {
    json value = RandomValue(rng, 0, false);
    ASSERT_EQ(CompactJson(value), value.dump()) << i;
  }
}

TEST(CompactJson, IntoABufferInUseWritesWhatDumpWrites) {
  std::mt19937 rng(17);
  std::string buffer = "left over from before";
  for (int i = 0; i < 300; ++i) {
    json value = RandomValue(rng, 0, false);
    CompactJsonInto(value, buffer);
    ASSERT_EQ(buffer, value.dump()) << i;
  }
}

TEST(CompactJson, ThrowsWhereDumpThrows) {
  std::mt19937 rng(16);
  int thrown = 0;
  for (int i = 0; i < 3000; ++i) {
    json value = RandomValue(rng, 0, true);
    std::string dumped, error;
    try {
      dumped = value.dump();
    } catch (const json::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      ASSERT_EQ(CompactJson(value), dumped) << i;
      continue;
    }
    ++thrown;
    try {
      CompactJson(value);
      FAIL() << i << ": no exception, dump() threw " << error;
    } catch (const json::exception& e) {
      EXPECT_EQ(e.what(), error) << i;
    }
  }
  EXPECT_GT(thrown, 100);
}

TEST(CompactJson, ParsedJsonAndYamlScalars) {
  const char* texts[] = {
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s","labels":{}},"spec":[]})",
      R"([1,-2,3.25,1e10,true,false,null,"x\u0000y","tab\tq\"uote"])",
      R"("")",
      "0",
      "{}",
      "[]"};
  for (const char* text : texts) {
    json value = json::parse(text);
    EXPECT_EQ(CompactJson(value), value.dump()) << text;
  }
}

}  // namespace
}  // namespace xgate::model
