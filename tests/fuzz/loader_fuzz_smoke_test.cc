// Runs the loader's fuzz entry over its seed corpus, every prefix of each seed and a few
// hostile inputs, so the fuzz target is exercised by ctest without clang or libFuzzer.
#include <gtest/gtest.h>

#include <string>

#include "tests/fuzz/fuzz_corpus.h"

namespace {

using xgate::testing::FuzzOne;

std::vector<std::string> Corpus() { return xgate::testing::ReadCorpus(XGATE_LOADER_CORPUS); }

TEST(LoaderFuzzSmoke, SeedCorpusAndEveryPrefix) {
  std::vector<std::string> corpus = Corpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const std::string& seed : corpus) {
    EXPECT_EQ(FuzzOne(seed), 0);
    for (size_t n = 0; n < seed.size(); n += 7) EXPECT_EQ(FuzzOne(seed.substr(0, n)), 0);
  }
}

TEST(LoaderFuzzSmoke, HostileInputs) {
  std::string deep(5000, '[');
  std::string deep_map;
  for (int i = 0; i < 300; ++i) deep_map += std::string(i, ' ') + "a:\n";
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, c - 1);
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>((i * 131) & 0xff);
  for (const std::string& input :
       {deep, deep_map, bomb, binary, std::string("\0\0\0", 3), std::string("---\n---\n..."),
        std::string("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '=='}"),
        std::string("{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: "
                    "{name: g}, spec: {listeners: [{port: 99999999999999999999}]}}"),
        std::string("apiVersion: networking.x-k8s.io/v1alpha1\nkind: HTTPRoute\nmetadata: "
                    "{name: r}\nspec: {rules: [{matches: [{headers: {values: {a: [1]}}}], "
                    "forwardTo: [{}]}]}"),
        std::string("apiVersion: networking.x-k8s.io/v1alpha1\nkind: Gateway\nmetadata: "
                    "{name: g}\nspec: {listeners: [7, {routes: {selector: 3}}]}")}) {
    EXPECT_EQ(FuzzOne(input), 0);
  }
}

}  // namespace
