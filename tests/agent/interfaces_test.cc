#include "agent/pipeline/interfaces.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace xgate::pipeline {
namespace {

TEST(InterfaceAddresses, LoopbackHasItsAddresses) {
  auto addresses = InterfaceAddresses({"lo"});
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, ::testing::Contains("127.0.0.1"));
}

TEST(InterfaceAddresses, UnknownInterfaceIsAnError) {
  auto addresses = InterfaceAddresses({"lo", "xg-no-such0"});
  ASSERT_FALSE(addresses.ok());
  EXPECT_THAT(std::string(addresses.status().message()), ::testing::HasSubstr("xg-no-such0"));
}

TEST(InterfaceAddresses, NoneGivenNoneReturned) {
  auto addresses = InterfaceAddresses({});
  ASSERT_TRUE(addresses.ok());
  EXPECT_TRUE(addresses->empty());
}

}  // namespace
}  // namespace xgate::pipeline
