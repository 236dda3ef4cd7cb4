// Passive endpoint health with an injected clock: ejection after consecutive failures, the
// back-off doubling per ejection up to its cap, readmission when it ends, and records kept
// across a config swap only for endpoints that stay.
#include "userspace-proxy/server/endpoint_health.h"

#include <gtest/gtest.h>

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

class EndpointHealthTest : public ::testing::Test {
 protected:
  EndpointHealth::Clock::time_point now_{};
  EndpointHealth health_{EjectionOptions{.failures_to_eject = 3, .base = 5000ms, .max = 20000ms},
                         [this] { return now_; }};
  const std::string a_ = "198.18.0.2:80";
  const std::string b_ = "198.18.0.3:80";

  // Fails `endpoint` until it is ejected; returns the back-off.
  std::chrono::milliseconds Eject(const std::string& endpoint) {
    for (int i = 0; i < 100; ++i) {
      if (auto backoff = health_.Failed(endpoint); backoff.count() > 0) return backoff;
    }
    return 0ms;
  }
};

TEST_F(EndpointHealthTest, EjectsAfterConsecutiveFailuresOnly) {
  EXPECT_EQ(health_.Failed(a_), 0ms);
  EXPECT_EQ(health_.Failed(a_), 0ms);
  health_.Succeeded(a_);  // a success in between starts the count again
  EXPECT_EQ(health_.Failed(a_), 0ms);
  EXPECT_EQ(health_.Failed(a_), 0ms);
  EXPECT_FALSE(health_.Ejected(a_));
  EXPECT_EQ(health_.Failed(a_), 5000ms);
  EXPECT_TRUE(health_.Ejected(a_));
  EXPECT_FALSE(health_.Ejected(b_));
}

TEST_F(EndpointHealthTest, ReadmittedWhenTheBackOffEnds) {
  ASSERT_EQ(Eject(a_), 5000ms);
  now_ += 4999ms;
  EXPECT_TRUE(health_.Ejected(a_));
  EXPECT_EQ(health_.Failed(a_), 0ms);  // failures while out do not extend the back-off
  now_ += 1ms;
  EXPECT_FALSE(health_.Ejected(a_));
}

TEST_F(EndpointHealthTest, BackOffDoublesUpToItsCapWhileItKeepsFailing) {
  std::vector<std::chrono::milliseconds> backoffs;
  backoffs.push_back(Eject(a_));
  for (int i = 0; i < 4; ++i) {
    now_ += backoffs.back();
    ASSERT_FALSE(health_.Ejected(a_));
    // Readmitted: its first failure ejects it again at once.
    backoffs.push_back(health_.Failed(a_));
    EXPECT_TRUE(health_.Ejected(a_));
  }
  EXPECT_EQ(backoffs,
            (std::vector<std::chrono::milliseconds>{5000ms, 10000ms, 20000ms, 20000ms, 20000ms}));
}

TEST_F(EndpointHealthTest, SuccessAfterReadmissionClearsTheRecord) {
  ASSERT_EQ(Eject(a_), 5000ms);
  now_ += 5000ms;
  health_.Succeeded(a_);
  EXPECT_EQ(health_.tracked(), 0u);
  // Back to the full count and the base back-off.
  EXPECT_EQ(health_.Failed(a_), 0ms);
  EXPECT_EQ(health_.Failed(a_), 0ms);
  EXPECT_EQ(health_.Failed(a_), 5000ms);
}

TEST_F(EndpointHealthTest, ConfigSwapKeepsEndpointsThatStay) {
  ASSERT_EQ(Eject(a_), 5000ms);
  ASSERT_EQ(Eject(b_), 5000ms);
  health_.Retain({a_, "198.18.0.9:80"});
  EXPECT_TRUE(health_.Ejected(a_));
  EXPECT_FALSE(health_.Ejected(b_));
  EXPECT_EQ(health_.tracked(), 1u);
  // b_ comes back with a clean record: the full count again.
  EXPECT_EQ(health_.Failed(b_), 0ms);
}

}  // namespace
}  // namespace xgate::proxy
