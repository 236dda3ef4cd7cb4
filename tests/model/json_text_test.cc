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

// Exactly nlohmann's tree: the same value types (an unsigned integer where nlohmann makes one)
// and the same members, not only values that compare equal.
void ExpectSameTree(const json& a, const json& b, const std::string& at) {
  ASSERT_EQ(a.type(), b.type()) << at;
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << at;
    for (auto it = a.begin(); it != a.end(); ++it) {
      ASSERT_TRUE(b.contains(it.key())) << at << "/" << it.key();
      ExpectSameTree(it.value(), b[it.key()], at + "/" + it.key());
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << at;
    for (size_t i = 0; i < a.size(); ++i) ExpectSameTree(a[i], b[i], at + "/" + std::to_string(i));
  } else {
    ASSERT_EQ(a, b) << at;
  }
}

TEST(ParseJson, MakesTheTreeNlohmannMakes) {
  std::mt19937 rng(18);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = RandomValue(rng, 0, false).dump(i % 3 == 0 ? 2 : -1);
    ExpectSameTree(ParseJson(text), json::parse(text), std::to_string(i));
  }
  // "-0" is the one text whose tree differs: nlohmann makes it a signed 0, simdjson does not say
  // it had a sign, so it is an unsigned 0 here (equal to it, and dumped the same: "0").
  EXPECT_EQ(ParseJson("-0"), json::parse("-0"));
  EXPECT_EQ(ParseJson("-0").dump(), json::parse("-0").dump());
  const char* texts[] = {
      R"({"a":1,"a":2,"c":-7,"d":18446744073709551615,"e":-9223372036854775808})",
      R"([123456789012345678901234567890,0.5,-1.5e-3,1E2])",
      R"({"s":"caf\u00e9 \ud83d\ude00","e":"","n":null,"t":true})", " [ ] ", "\"x\""};
  for (const char* text : texts) ExpectSameTree(ParseJson(text), json::parse(text), text);
}

// A text larger than what the parser keeps between calls, then small ones again.
TEST(ParseJson, ALargeTextThenSmallOnes) {
  json big = json::array();
  for (int i = 0; i < 400000; ++i) big.push_back({{"name", "object-" + std::to_string(i)}});
  const std::string text = big.dump();
  ASSERT_GT(text.size(), 8u << 20);
  EXPECT_EQ(ParseJson(text), big);
  EXPECT_EQ(ParseJson(R"({"a":[1,2]})"), json::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(ParseJson(text).size(), big.size());
}

TEST(ParseJson, RefusesWhatNlohmannRefuses) {
  for (const char* text :
       {"", "{", "[1,]", "1e400", "{\"a\" 1}", "nul", "\"\xff\"", "1 2", "{\"a\":01}"}) {
    EXPECT_TRUE(ParseJson(text).is_discarded()) << text;
    EXPECT_TRUE(json::parse(text, nullptr, false).is_discarded()) << text;
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
