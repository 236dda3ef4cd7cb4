// Runs the HTTP parser fuzz entry over its seed corpus with every split mode, and over
// every prefix of each seed, so the fuzz properties are checked by ctest without libFuzzer.
#include <gtest/gtest.h>

#include <string>

#include "tests/fuzz/fuzz_corpus.h"

namespace {

int RunEntry(uint8_t mode, const std::string& input) {
  std::string data(1, static_cast<char>(mode));
  data += input;
  return xgate::testing::FuzzOne(data);
}

// Seeds are stored without their mode byte; the smoke test tries every mode.
std::vector<std::string> Corpus() { return xgate::testing::ReadCorpus(XGATE_HTTP_CORPUS); }

TEST(HttpParserFuzzSmoke, SeedCorpusInEveryMode) {
  std::vector<std::string> corpus = Corpus();
  ASSERT_GE(corpus.size(), 8u);
  for (const std::string& seed : corpus) {
    for (int mode = 0; mode < 64; ++mode) EXPECT_EQ(RunEntry(static_cast<uint8_t>(mode), seed), 0);
  }
}

TEST(HttpParserFuzzSmoke, EveryPrefixOfEverySeed) {
  for (const std::string& seed : Corpus()) {
    for (size_t n = 0; n <= seed.size(); ++n) {
      EXPECT_EQ(RunEntry(0x03, seed.substr(0, n)), 0);
      EXPECT_EQ(RunEntry(0x13, seed.substr(0, n)), 0);
    }
  }
}

}  // namespace
