// Replays the XDP fuzz target's seed corpus (v4/v6 TCP/UDP frames to every kind of listener)
// through the loaded fast path. Needs root: skipped otherwise, failed with
// XGATE_REQUIRE_PRIVILEGED=1.
#include <gtest/gtest.h>

#include "tests/bpf/bpf_env.h"
#include "tests/fuzz/fuzz_corpus.h"
#include "tests/fuzz/xdp_fuzz.h"

namespace {

TEST(XdpFuzzCorpus, EverySeedAndItsTruncations) {
  std::string why = xgate::testing::XdpFuzzSetUp();
  if (!why.empty()) {
    if (xgate::testing::PrivilegeRequired()) FAIL() << why << " (XGATE_REQUIRE_PRIVILEGED=1)";
    GTEST_SKIP() << why;
  }
  std::vector<std::string> corpus = xgate::testing::ReadCorpus(XGATE_FUZZ_CORPUS);
  ASSERT_GE(corpus.size(), 8u);
  for (const std::string& seed : corpus) {
    EXPECT_EQ(xgate::testing::FuzzOne(seed), 0);
    for (size_t n = 14; n < seed.size(); n += 3) {
      EXPECT_EQ(xgate::testing::FuzzOne(seed.substr(0, n)), 0);
    }
  }
  // The seeds reach the program's paths: forward (TX or redirect), new flow, punt, no
  // listener, not IP, fragment/options, no backend, truncated, ICMP translated or passed.
  EXPECT_GE(xgate::testing::XdpFuzzFeaturesSeen(), 8u);
}

}  // namespace
