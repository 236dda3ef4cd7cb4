#include "agent/sources/kube/backoff.h"

#include <gtest/gtest.h>

namespace xgate::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Backoff::Options Options() { return {milliseconds(200), milliseconds(30000), 0.2}; }

TEST(Backoff, DoublesUpToTheCap) {
  Backoff b(Options(), [] { return 0.5; });  // the middle of the jitter: no jitter
  EXPECT_EQ(b.Next(), milliseconds(200));
  EXPECT_EQ(b.Next(), milliseconds(400));
  EXPECT_EQ(b.Next(), milliseconds(800));
  for (int i = 0; i < 20; ++i) b.Next();
  EXPECT_EQ(b.Next(), milliseconds(30000));
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(200));
}

TEST(Backoff, JitterStaysWithinItsBoundsAndUnderTheCap) {
  Backoff low(Options(), [] { return 0.0; });
  Backoff high(Options(), [] { return 0.999999; });
  EXPECT_EQ(low.Next(), milliseconds(160));
  EXPECT_EQ(high.Next(), milliseconds(239));
  for (int i = 0; i < 20; ++i) {
    low.Next();
    high.Next();
  }
  EXPECT_EQ(low.Next(), milliseconds(24000));
  EXPECT_EQ(high.Next(), milliseconds(30000));  // jitter never goes past the cap
}

TEST(Backoff, RetryAfterIsHonouredWithinTheCap) {
  Backoff b(Options(), [] { return 0.5; });
  EXPECT_EQ(b.Next(seconds(3)), milliseconds(3000));
  EXPECT_EQ(b.Next(seconds(0)), milliseconds(400));  // never less than the backoff
  EXPECT_EQ(b.Next(seconds(3600)), milliseconds(30000));
}

}  // namespace
}  // namespace xgate::kube
