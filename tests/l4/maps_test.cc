#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

#include "maps/names.h"
#include "maps/typed_map.h"

namespace xgate::maps {
namespace {

TEST(MapsTest, AddressesRoundTripInBothFamilies) {
  for (const std::string literal : {"198.18.100.10", "fd00:100::10", "::1", "0.0.0.0"}) {
    uint8_t addr[16];
    uint8_t family = 0;
    ASSERT_TRUE(ParseAddress(literal, addr, &family).ok()) << literal;
    EXPECT_EQ(FormatAddress(addr), literal);
    EXPECT_EQ(family, literal.find(':') == std::string::npos ? XG_FAMILY_V4 : XG_FAMILY_V6);
  }
  uint8_t addr[16];
  uint8_t family = 0;
  EXPECT_FALSE(ParseAddress("198.18.100", addr, &family).ok());
  EXPECT_FALSE(ParseAddress("gateway.example", addr, &family).ok());
}

TEST(MapsTest, Ipv4IsStoredV4Mapped) {
  uint8_t addr[16];
  uint8_t family = 0;
  ASSERT_TRUE(ParseAddress("198.18.100.10", addr, &family).ok());
  const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 100, 10};
  EXPECT_EQ(std::string(addr, addr + 16), std::string(want, want + 16));
}

TEST(MapsTest, EveryCounterHasADistinctName) {
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < XG_PATH_MAX; ++i) EXPECT_TRUE(names.insert(PathName(i)).second);
  for (uint32_t i = 0; i < XG_DROP_MAX; ++i) EXPECT_TRUE(names.insert(DropName(i)).second);
  EXPECT_EQ(names.count("unknown"), 0u);
}

// The layouts are the kernel ABI of the pinned maps: a size change needs a migration.
TEST(MapsTest, LayoutSizesAreStable) {
  EXPECT_EQ(sizeof(xg_listener_key), 20u);
  EXPECT_EQ(sizeof(xg_listener_value), 12u);
  EXPECT_EQ(sizeof(xg_backend), 44u);
  EXPECT_EQ(sizeof(xg_flow), 40u);
  EXPECT_EQ(sizeof(xg_nexthop), 32u);
  EXPECT_EQ(sizeof(xg_ct_entry), 80u);
  EXPECT_EQ(sizeof(xg_rnat_entry), 32u);
  EXPECT_EQ(sizeof(xg_traffic), 16u);
}

}  // namespace
}  // namespace xgate::maps
