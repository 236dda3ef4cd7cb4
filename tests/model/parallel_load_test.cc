// A file of many documents is decoded on several threads: the result must be the one of a
// decode of one document after the other, whatever the documents (good, refused, not ours,
// broken YAML, Lists, v1alpha1 conversions, names defined twice within a run, across runs or
// already in the result) and however many threads.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/model/loader.h"

namespace xgate::model {
namespace {

class RandomFile {
 public:
  // Names drawn from `names` (few: many defined twice).
  RandomFile(uint32_t seed, int names) : rng_(seed), names_(names) {}

  std::string Text(int documents) {
    std::string out;
    for (int i = 0; i < documents; ++i) absl::StrAppend(&out, i == 0 ? "" : "---\n", Document());
    return out;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  std::string Name() { return absl::StrCat("n", Pick(names_)); }
  std::string Meta() {
    return absl::StrCat("metadata: {name: ", Name(), ", namespace: ns", Pick(3), "}\n");
  }

  std::string Document() {
    switch (Pick(12)) {
      case 0:
      case 1:
      case 2:
        return absl::StrCat(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n", Meta(),
            "spec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: s, port: 80, "
            "weight: ",
            Pick(5), "}]\n");
      case 3:
        return absl::StrCat("apiVersion: v1\nkind: Service\n", Meta(),
                            "spec:\n  ports: [{name: p, port: ", 1 + Pick(9000), "}]\n");
      case 4:
        return absl::StrCat("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n", Meta(),
                            "addressType: IPv4\nendpoints:\n- addresses: [198.18.1.", Pick(250),
                            "]\n");
      case 5:  // refused: a negative weight
        return absl::StrCat("apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\n",
                            Meta(), "spec:\n  rules:\n  - backendRefs: [{name: s, weight: -3}]\n");
      case 6:
        return absl::StrCat(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: "
            "Namespace\n  metadata: {name: ",
            Name(), "}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: ", Name(), "}\n");
      case 7:  // converted with the document's lines
        return absl::StrCat("apiVersion: networking.x-k8s.io/v1alpha1\nkind: HTTPRoute\n", Meta(),
                            "spec:\n  rules:\n  - forwardTo: [{serviceName: s, port: 80}]\n");
      case 8:
        return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
      case 9:
        return Pick(2) == 0 ? "" : "- not a mapping\n";
      case 10:
        return "apiVersion: gateway.networking.k8s.io/v9\nkind: HTTPRoute\nmetadata: {name: v}\n";
      default:  // broken YAML, rarely: the file is then parsed document by document
        return Pick(20) == 0
                   ? "metadata: {name: broken\nspec: [\n"
                   : "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + Name() + "}\n";
    }
  }

  std::mt19937 rng_;
  int names_;
};

void ExpectSame(const LoadResult& a, const LoadResult& b) {
  ForEachKindMap(a.store, b.store, [](const auto& x_map, const auto& y_map) {
    ASSERT_EQ(x_map.size(), y_map.size());
    for (auto x = x_map.begin(), y = y_map.begin(); x != x_map.end(); ++x, ++y) {
      ASSERT_EQ(x->first, y->first);
      const auto& p = x->second;
      const auto& q = y->second;
      EXPECT_EQ(p.raw, q.raw);
      EXPECT_EQ(p.api_version, q.api_version);
      EXPECT_EQ(p.meta.source.file, q.meta.source.file);
      EXPECT_EQ(p.meta.source.line, q.meta.source.line) << x->first.second;
      EXPECT_EQ(p.meta.creation_index, q.meta.creation_index) << x->first.second;
      EXPECT_EQ(p.meta.generation, q.meta.generation);
      EXPECT_EQ(p.meta.labels, q.meta.labels);
      EXPECT_EQ(p.v1alpha1_selector_binding, q.v1alpha1_selector_binding);
      EXPECT_EQ(p.v1alpha1_same_namespace_only, q.v1alpha1_same_namespace_only);
    }
  });
  ASSERT_EQ(a.errors.size(), b.errors.size());
  for (size_t i = 0; i < a.errors.size(); ++i) {
    EXPECT_EQ(a.errors[i].ToString(), b.errors[i].ToString()) << i;
  }
}

TEST(ParallelLoad, EqualsADecodeInOrderOverRandomFiles) {
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    // Names from a large pool (rarely twice: the runs join) or a small one (the file is then
    // decoded in order again); a result that has objects already, or not.
    const int names = seed % 3 == 0 ? 200 : 100000;
    RandomFile file(seed, names);
    const std::string before = seed % 2 == 0 ? file.Text(20) : "";
    const std::string text = file.Text(600 + static_cast<int>(seed) * 37);
    auto load = [&](unsigned threads) {
      LoadResult r;
      r.first_index = seed * 1000;
      LoadText(before, "before.yaml", r);
      LoadText(text, "big.yaml", r, threads);
      return r;
    };
    const LoadResult in_order = load(1);
    ASSERT_GT(in_order.store.Size(), 300u);
    for (unsigned threads : {2u, 3u, 8u}) {
      SCOPED_TRACE(absl::StrCat(threads, " threads"));
      ExpectSame(in_order, load(threads));
    }
  }
}

}  // namespace
}  // namespace xgate::model
