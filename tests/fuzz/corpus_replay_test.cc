// Replays a fuzz target's seed corpus (XGATE_FUZZ_CORPUS) through its entry function, each
// seed whole and cut short every few bytes, so the target's checks run under ctest in every
// build, without clang or libFuzzer. XGATE_FUZZ_SUITE names the test suite (one per target).
#include <gtest/gtest.h>

#include "tests/fuzz/fuzz_corpus.h"

namespace {

using xgate::testing::FuzzOne;

TEST(XGATE_FUZZ_SUITE, EverySeedWholeAndCutShort) {
  std::vector<std::string> corpus = xgate::testing::ReadCorpus(XGATE_FUZZ_CORPUS);
  ASSERT_GE(corpus.size(), 5u) << XGATE_FUZZ_CORPUS;
  for (const std::string& seed : corpus) {
    EXPECT_EQ(FuzzOne(seed), 0);
    for (size_t n = 0; n < seed.size(); n += 1 + seed.size() / 16) {
      EXPECT_EQ(FuzzOne(seed.substr(0, n)), 0);
    }
  }
}

}  // namespace
