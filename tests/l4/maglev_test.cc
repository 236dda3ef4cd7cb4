#include "agent/l4/maglev.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "maps/common.h"

namespace xgate::l4 {
namespace {

constexpr uint32_t kFlows = 65536;

// Where each of kFlows flows lands: the fraction of flows per backend id.
std::map<uint32_t, double> Shares(const std::vector<uint32_t>& table) {
  std::map<uint32_t, double> count;
  for (uint32_t flow = 0; flow < kFlows; ++flow) {
    uint64_t h = MaglevHash("198.18.0.1:" + std::to_string(flow) + "->198.18.100.10:5432", 99);
    count[table[h % table.size()]] += 1;
  }
  for (auto& [id, c] : count) c /= kFlows;
  return count;
}

std::vector<MaglevBackend> Backends(const std::vector<uint32_t>& weights) {
  std::vector<MaglevBackend> out;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    out.push_back({"default/db/198.18.1." + std::to_string(i + 2) + ":5432", weights[i], i});
  }
  return out;
}

void ExpectShares(const std::vector<uint32_t>& weights) {
  std::vector<uint32_t> table = BuildMaglevTable(Backends(weights), XG_MAGLEV_SIZE);
  ASSERT_EQ(table.size(), XG_MAGLEV_SIZE);
  std::map<uint32_t, double> shares = Shares(table);
  double total = 0;
  for (uint32_t w : weights) total += w;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(shares[i], weights[i] / total, 0.01) << "backend " << i;
  }
}

TEST(MaglevTest, EightyTwenty) { ExpectShares({800000, 200000}); }
TEST(MaglevTest, NinetyTen) { ExpectShares({900000, 100000}); }
TEST(MaglevTest, ThreeEqual) { ExpectShares({333333, 333333, 333334}); }
TEST(MaglevTest, UnevenFive) { ExpectShares({500000, 250000, 125000, 100000, 25000}); }

TEST(MaglevTest, SlotCountsFollowWeights) {
  std::vector<uint32_t> table = BuildMaglevTable(Backends({900000, 100000}), XG_MAGLEV_SIZE);
  uint32_t small = 0;
  for (uint32_t id : table) small += id == 1;
  EXPECT_NEAR(static_cast<double>(small) / XG_MAGLEV_SIZE, 0.1, 0.001);
}

TEST(MaglevTest, ZeroWeightGetsNothingAndNoneGivesEmpty) {
  std::vector<uint32_t> table = BuildMaglevTable(Backends({1000000, 0}), XG_MAGLEV_SIZE);
  for (uint32_t id : table) ASSERT_EQ(id, 0u);
  EXPECT_TRUE(BuildMaglevTable(Backends({0, 0}), XG_MAGLEV_SIZE).empty());
  EXPECT_TRUE(BuildMaglevTable({}, XG_MAGLEV_SIZE).empty());
}

TEST(MaglevTest, OrderOfBackendsDoesNotMatter) {
  std::vector<MaglevBackend> a = Backends({600000, 300000, 100000});
  std::vector<MaglevBackend> b = {a[2], a[0], a[1]};
  EXPECT_EQ(BuildMaglevTable(a, XG_MAGLEV_SIZE), BuildMaglevTable(b, XG_MAGLEV_SIZE));
}

// Slots that changed owner although neither their old nor their new owner was the backend
// that came or went: Maglev keeps these few.
double CollateralMoves(const std::vector<uint32_t>& before, const std::vector<uint32_t>& after,
                       uint32_t changed_backend) {
  uint32_t moved = 0;
  for (size_t s = 0; s < before.size(); ++s) {
    if (before[s] != after[s] && before[s] != changed_backend && after[s] != changed_backend)
      ++moved;
  }
  return static_cast<double>(moved) / before.size();
}

TEST(MaglevTest, RemovingABackendMovesLittleElse) {
  std::vector<MaglevBackend> all;
  for (uint32_t i = 0; i < 10; ++i)
    all.push_back({"ns/svc/198.18.1." + std::to_string(i) + ":80", 100000, i});
  std::vector<uint32_t> before = BuildMaglevTable(all, XG_MAGLEV_SIZE);
  std::vector<MaglevBackend> fewer = all;
  fewer.erase(fewer.begin() + 4);
  std::vector<uint32_t> after = BuildMaglevTable(fewer, XG_MAGLEV_SIZE);
  for (uint32_t id : after) ASSERT_NE(id, 4u);
  // Every slot of the removed backend moves (10%); of the rest, only a few percent.
  EXPECT_LT(CollateralMoves(before, after, 4), 0.03);
}

TEST(MaglevTest, AddingABackendTakesItsShareMostlyFromEveryone) {
  std::vector<MaglevBackend> all;
  for (uint32_t i = 0; i < 9; ++i)
    all.push_back({"ns/svc/198.18.1." + std::to_string(i) + ":80", 100000, i});
  std::vector<uint32_t> before = BuildMaglevTable(all, XG_MAGLEV_SIZE);
  all.push_back({"ns/svc/198.18.1.9:80", 100000, 9});
  std::vector<uint32_t> after = BuildMaglevTable(all, XG_MAGLEV_SIZE);
  uint32_t to_new = 0;
  for (size_t s = 0; s < after.size(); ++s) to_new += after[s] == 9;
  EXPECT_NEAR(static_cast<double>(to_new) / XG_MAGLEV_SIZE, 0.1, 0.005);
  EXPECT_LT(CollateralMoves(before, after, 9), 0.03);
}

TEST(MaglevTest, WeightChangeMovesAboutTheDifference) {
  std::vector<uint32_t> before = BuildMaglevTable(Backends({500000, 500000}), XG_MAGLEV_SIZE);
  std::vector<uint32_t> after = BuildMaglevTable(Backends({800000, 200000}), XG_MAGLEV_SIZE);
  uint32_t moved = 0;
  for (size_t s = 0; s < before.size(); ++s) moved += before[s] != after[s];
  // 30% must move; Maglev adds some churn on top but stays far from a reshuffle (50%).
  double fraction = static_cast<double>(moved) / XG_MAGLEV_SIZE;
  EXPECT_GE(fraction, 0.29);
  EXPECT_LT(fraction, 0.40);
}

}  // namespace
}  // namespace xgate::l4
