// Listener/route hostname intersection and wildcard matching, as the Gateway API defines.
#include "agent/binder/hostnames.h"

#include <gtest/gtest.h>

namespace xgate::binder {
namespace {

struct IntersectCase {
  std::optional<std::string> listener;
  std::vector<std::string> route;
  bool intersects;
  std::vector<std::string> want;
};

class Intersection : public ::testing::TestWithParam<IntersectCase> {};

TEST_P(Intersection, Table) {
  const auto& c = GetParam();
  HostnameIntersection got = IntersectHostnames(c.listener, c.route);
  EXPECT_EQ(got.intersects, c.intersects);
  EXPECT_EQ(got.hostnames, c.want);
}

INSTANTIATE_TEST_SUITE_P(
    All, Intersection,
    ::testing::Values(
        // Neither names a host: any host.
        IntersectCase{std::nullopt, {}, true, {}},
        // Only one side names hosts: those.
        IntersectCase{
            std::nullopt, {"a.example.com", "*.b.com"}, true, {"a.example.com", "*.b.com"}},
        IntersectCase{"foo.example.com", {}, true, {"foo.example.com"}},
        IntersectCase{"*.example.com", {}, true, {"*.example.com"}},
        // Exact vs exact.
        IntersectCase{"foo.example.com", {"foo.example.com"}, true, {"foo.example.com"}},
        IntersectCase{"foo.example.com", {"bar.example.com"}, false, {}},
        // Wildcard listener: exact route hostnames under it, one or more labels deep.
        IntersectCase{"*.example.com", {"foo.example.com"}, true, {"foo.example.com"}},
        IntersectCase{"*.example.com", {"a.b.example.com"}, true, {"a.b.example.com"}},
        IntersectCase{"*.example.com", {"example.com"}, false, {}},
        IntersectCase{
            "*.example.com", {"foo.example.org", "x.example.com"}, true, {"x.example.com"}},
        // Wildcard route, exact listener: the listener's name.
        IntersectCase{"foo.example.com", {"*.example.com"}, true, {"foo.example.com"}},
        IntersectCase{"example.com", {"*.example.com"}, false, {}},
        // Wildcard vs wildcard: the narrower.
        IntersectCase{"*.example.com", {"*.foo.example.com"}, true, {"*.foo.example.com"}},
        IntersectCase{"*.foo.example.com", {"*.example.com"}, true, {"*.foo.example.com"}},
        IntersectCase{"*.example.com", {"*.example.com"}, true, {"*.example.com"}},
        IntersectCase{"*.example.com", {"*.example.org"}, false, {}},
        // Duplicates after narrowing collapse.
        IntersectCase{
            "foo.example.com", {"*.example.com", "foo.example.com"}, true, {"foo.example.com"}}));

TEST(Wildcard, Matching) {
  EXPECT_TRUE(WildcardMatches("*.example.com", "foo.example.com"));
  EXPECT_TRUE(WildcardMatches("*.example.com", "foo.bar.example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", "example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", "fooexample.com"));
  EXPECT_FALSE(WildcardMatches("foo.example.com", "foo.example.com"));
}

TEST(Covers, WiderPatterns) {
  EXPECT_TRUE(HostnameCovers("", "a.example.com"));
  EXPECT_TRUE(HostnameCovers("", "*.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "a.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "*.a.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "*.example.com"));
  EXPECT_FALSE(HostnameCovers("*.a.example.com", "*.example.com"));
  EXPECT_FALSE(HostnameCovers("*.example.com", "example.com"));
  EXPECT_FALSE(HostnameCovers("a.example.com", "b.example.com"));
  EXPECT_FALSE(HostnameCovers("a.example.com", ""));
}

TEST(Specificity, ExactThenWildcardsThenAny) {
  std::vector<std::string> names = {
      "", "*.example.com", "b.example.com", "*.foo.example.com", "a.example.com", "*.com"};
  std::sort(names.begin(), names.end(), MoreSpecificHostname);
  EXPECT_EQ(names, (std::vector<std::string>{"a.example.com", "b.example.com", "*.foo.example.com",
                                             "*.example.com", "*.com", ""}));
}

}  // namespace
}  // namespace xgate::binder
