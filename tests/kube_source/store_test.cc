#include "agent/sources/store.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "agent/sources/folder_source.h"
#include "tests/fixtures/fixtures.h"

namespace xgate::sources {
namespace {

using nlohmann::json;

json Route(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"generation", 3}}},
          {"spec", {{"rules", json::array({json::object()})}}}};
}

TEST(ObjectStore, SourcesFeedOneLoad) {
  fixtures::TempDir dir;
  fixtures::WriteFile(dir.path() / "svc.yaml",
                      "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\n"
                      "spec: {ports: [{port: 80}]}\n");
  ObjectStore store;
  FolderSource folder(dir.path(), store);
  ASSERT_TRUE(folder.Sync().ok());
  store.Put("kube", "HTTPRoute/a/r", {"HTTPRoute/a/r", "", Route("a", "r")});
  json bad = Route("a", "bad");
  bad["spec"]["rules"][0]["matches"] = {{{"path", {{"type", "PathPrefix"}, {"value", "x"}}}}};
  store.Put("kube", "HTTPRoute/a/bad", {"HTTPRoute/a/bad", "", bad});

  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->store.services.size(), 1u);
  ASSERT_EQ(loaded->store.http_routes.size(), 1u);
  EXPECT_EQ(loaded->store.http_routes.begin()->second.meta.generation, 3);  // the server's
  ASSERT_EQ(loaded->errors.size(), 1u);
  // An API object's "file" is kind/namespace/name, with no line.
  EXPECT_EQ(
      loaded->errors[0].ToString().rfind("HTTPRoute/a/bad: HTTPRoute a/bad: spec.rules[0]", 0), 0u)
      << loaded->errors[0].ToString();

  store.Erase("kube", "HTTPRoute/a/r");
  EXPECT_TRUE(store.Load()->store.http_routes.empty());
}

// A batch this large is decoded on several threads (on a machine with more than one core):
// the load is still the one a decode in order gives, its creation indexes and its errors in
// the documents' order.
TEST(ObjectStore, ALargeBatchLoadsAsIfDecodedInOrder) {
  constexpr int kRoutes = 1000;
  ObjectStore store;
  std::map<std::string, Document> docs;
  model::LoadResult expected;
  for (int i = 0; i < kRoutes; ++i) {
    std::string name = absl::StrCat("r", 10000 + i);  // keys sort as the loop goes
    json route = Route("a", name);
    if (i % 97 == 5) {  // a refused one now and then
      route["spec"]["rules"][0]["matches"] = {{{"path", {{"type", "PathPrefix"}, {"value", "x"}}}}};
    }
    std::string key = "HTTPRoute/a/" + name;
    model::LoadObject(route, key, expected);
    docs[key] = Document{key, {}, route};
  }
  store.Replace("kube", std::move(docs));

  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->store.http_routes.size(), expected.store.http_routes.size());
  ASSERT_EQ(loaded->errors.size(), expected.errors.size());
  ASSERT_GT(loaded->errors.size(), 5u);
  for (size_t i = 0; i < expected.errors.size(); ++i) {
    EXPECT_EQ(loaded->errors[i].ToString(), expected.errors[i].ToString()) << i;
  }
  int64_t last_index = -1;
  for (const auto& [key, route] : loaded->store.http_routes) {
    ASSERT_TRUE(expected.store.http_routes.contains(key)) << key.second;
    EXPECT_GT(route.meta.creation_index, last_index) << key.second;  // the documents' order
    last_index = route.meta.creation_index;
  }
}

// Once decoded, an API object is kept as a digest, not as its parsed tree: the same object
// written again is still no change (and keeps its decode), nor is it listed again, a changed one
// is decoded again, and a load that decodes everything again (a name defined twice) decodes it
// from the JSON its decode kept.
TEST(ObjectStore, ADecodedObjectIsKeptAsADigestAndComparedAsBefore) {
  ObjectStore store;
  store.Put("kube", "HTTPRoute/a/r", {"HTTPRoute/a/r", "", Route("a", "r")});
  auto first = store.Load();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->store.http_routes.size(), 1u);
  const uint64_t decode_id = first->store.http_routes.begin()->second.decode_id;

  const uint64_t version = store.version();
  store.Put("kube", "HTTPRoute/a/r", {"HTTPRoute/a/r", "", Route("a", "r")});
  EXPECT_EQ(store.version(), version);
  auto second = store.Load();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->store.http_routes.begin()->second.decode_id, decode_id);
  std::map<std::string, Document> listed;
  listed["HTTPRoute/a/r"] = Document{"HTTPRoute/a/r", {}, Route("a", "r")};
  store.ReplacePrefix("kube", "HTTPRoute/", std::move(listed));  // a relist, the same object
  auto relisted = store.Load();
  ASSERT_TRUE(relisted.ok()) << relisted.status();
  EXPECT_EQ(relisted->store.http_routes.begin()->second.decode_id, decode_id);

  // The same route from another source: every document is decoded again, once each.
  store.Put("other", "HTTPRoute/a/r", {"HTTPRoute/a/r", "", Route("a", "r")});
  auto twice = store.Load();
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(twice->store.http_routes.size(), 1u);
  ASSERT_EQ(twice->errors.size(), 1u);
  EXPECT_NE(twice->errors[0].ToString().find("Duplicate value"), std::string::npos)
      << twice->errors[0].ToString();
  store.Erase("other", "HTTPRoute/a/r");

  json changed = Route("a", "r");
  changed["spec"]["hostnames"] = {"r.example.com"};
  store.Put("kube", "HTTPRoute/a/r", {"HTTPRoute/a/r", "", changed});
  EXPECT_GT(store.version(), version);
  auto third = store.Load();
  ASSERT_TRUE(third.ok()) << third.status();
  ASSERT_EQ(third->store.http_routes.size(), 1u);
  EXPECT_NE(third->store.http_routes.begin()->second.decode_id, decode_id);
  EXPECT_EQ(third->store.http_routes.begin()->second.hostnames.size(), 1u);
}

// What a predecode decoded is not decoded again by the next load, which only gathers it: the
// route predecoded first has the earlier creation indexes although its key sorts last, and the
// load is the one a load without predecode gives otherwise.
TEST(ObjectStore, APredecodedDocumentIsNotDecodedAgainByTheLoad) {
  ObjectStore store;
  store.Put("kube", "HTTPRoute/a/z9", {"HTTPRoute/a/z9", "", Route("a", "z9")});
  store.Predecode();
  store.Put("kube", "HTTPRoute/a/a0", {"HTTPRoute/a/a0", "", Route("a", "a0")});
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->store.http_routes.size(), 2u);
  const auto& routes = loaded->store.http_routes;
  const model::HTTPRoute& first = routes.begin()->second;  // a0
  const model::HTTPRoute& last = std::next(routes.begin())->second;
  EXPECT_EQ(first.meta.name, "a0");
  EXPECT_LT(last.meta.creation_index, first.meta.creation_index);
  const uint64_t predecoded = last.decode_id;

  auto again = store.Load();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(std::next(again->store.http_routes.begin())->second.decode_id, predecoded);
  store.Erase("kube", "HTTPRoute/a/z9");
  store.Predecode();
  EXPECT_EQ(store.Load()->store.http_routes.size(), 1u);
}

// A load edits the merged result of the previous one by the documents that changed: over
// random sequences of puts, erases, relists and folder files (names defined twice now and then,
// refused objects, predecodes between loads), every load equals a fresh store's load of the
// same documents (the same objects under the same keys, the same errors in the same order).
json Service(const std::string& ns, const std::string& name, int port) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"ports", json::array({{{"port", port}}})}}}};
}

using Documents = std::map<std::string, std::map<std::string, Document>>;

// Every object of `loaded` as "kind key: raw JSON", and its errors, in order.
std::vector<std::string> Describe(const model::LoadResult& loaded) {
  std::vector<std::string> out;
  int kind = 0;
  model::ForEachKindMap(loaded.store, loaded.store, [&](const auto& map, const auto&) {
    for (const auto& [key, object] : map) {
      out.push_back(absl::StrCat(kind, " ", key.first, "/", key.second, ": ", object.raw.dump()));
    }
    ++kind;
  });
  for (const auto& e : loaded.errors) out.push_back("error " + e.ToString());
  return out;
}

TEST(ObjectStore, AnIncrementalLoadEqualsAFreshLoadOfTheSameDocuments) {
  int refused = 0, twice = 0;  // loads with a refused object, with a name defined twice
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    ObjectStore store;
    Documents docs;  // what the store holds, to load afresh
    auto object = [&](int i, int variant) -> json {
      if (i % 3 == 0) return Service("a", absl::StrCat("s", i), 80 + variant);
      json route = Route(i % 2 ? "a" : "b", absl::StrCat("r", i));
      route["spec"]["hostnames"] = {absl::StrCat("h", variant, ".example.com")};
      if (variant == 3) {  // refused
        route["spec"]["rules"][0]["matches"] = {
            {{"path", {{"type", "PathPrefix"}, {"value", "x"}}}}};
      }
      return route;
    };
    auto key_of = [](const json& o) {
      return absl::StrCat(o["kind"].get<std::string>(), "/",
                          o["metadata"]["namespace"].get<std::string>(), "/",
                          o["metadata"]["name"].get<std::string>());
    };
    for (int step = 0; step < 120; ++step) {
      const int op = pick(10);
      if (op < 5) {  // put an object (the same one again now and then)
        json o = object(pick(24), pick(4));
        std::string key = key_of(o);
        docs["kube"][key] = Document{key, {}, o};
        store.Put("kube", key, Document{key, {}, o});
      } else if (op < 7) {
        json o = object(pick(24), 0);
        std::string key = key_of(o);
        docs["kube"].erase(key);
        store.Erase("kube", key);
      } else if (op == 7) {  // a relist of the routes
        std::map<std::string, Document> listed;
        for (int n = pick(6); n > 0; --n) {
          json o = object(pick(24), pick(4));
          if (o["kind"] != "HTTPRoute") continue;
          std::string key = key_of(o);
          listed[key] = Document{key, {}, o};
        }
        std::erase_if(docs["kube"],
                      [](const auto& e) { return e.first.starts_with("HTTPRoute/"); });
        for (const auto& [key, doc] : listed) docs["kube"][key] = doc;
        store.ReplacePrefix("kube", "HTTPRoute/", std::move(listed));
      } else if (op == 8) {  // a folder: files of a few documents (a name twice now and then)
        std::map<std::string, Document> files;
        for (int f = pick(3); f > 0; --f) {
          std::string text;
          for (int n = 1 + pick(3); n > 0; --n)
            text += object(pick(40), pick(4)).dump() + "\n---\n";
          std::string name = absl::StrCat("f", pick(4), ".yaml");
          files[name] = Document{name, text, {}};
        }
        docs["folder"] = files;
        store.Replace("folder", std::move(files));
      } else {
        store.Predecode();
        continue;
      }
      if (pick(3) == 0) continue;  // a burst: loaded with the next change
      auto loaded = store.Load();
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      ObjectStore fresh;
      for (const auto& [source, documents] : docs) fresh.Replace(source, documents);
      auto expected = fresh.Load();
      ASSERT_TRUE(expected.ok()) << expected.status();
      ASSERT_EQ(Describe(*loaded), Describe(*expected)) << "seed " << seed << " step " << step;
      refused += !loaded->errors.empty();
      twice += std::any_of(loaded->errors.begin(), loaded->errors.end(), [](const auto& e) {
        return e.message.find("Duplicate") != std::string::npos;
      });
    }
  }
  EXPECT_GT(refused, 100);  // the sequences did reach both
  EXPECT_GT(twice, 100);
  std::printf("%d loads with a refused object, %d with a name defined twice\n", refused, twice);
}

TEST(ObjectStore, AnUnreadableSourceFailsTheLoadUntilItIsBack) {
  fixtures::TempDir dir;
  ObjectStore store;
  FolderSource folder(dir.path() / "missing", store);
  EXPECT_FALSE(folder.Sync().ok());
  EXPECT_EQ(store.Load().status().code(), absl::StatusCode::kNotFound);
  std::filesystem::create_directory(dir.path() / "missing");
  EXPECT_TRUE(folder.Sync().ok());
  EXPECT_TRUE(store.Load().ok());
}

TEST(ObjectStore, ABurstOfChangesIsOneWake) {
  ObjectStore store;
  int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  uint64_t v0 = store.version();
  for (int i = 0; i < 3; ++i) {
    std::string name = absl::StrCat("r", i);
    std::string key = absl::StrCat("HTTPRoute/a/", name);
    store.Put("kube", key, {key, "", Route("a", name)});
  }
  EXPECT_EQ(store.version(), v0 + 3);
  EXPECT_EQ(
      WaitForChanges(store, stop, std::chrono::milliseconds(5), std::chrono::milliseconds(100)),
      WaitResult::kChanged);
  // The three were consumed by that one wake: the next wait ends only by the stop.
  uint64_t one = 1;
  ASSERT_EQ(write(stop, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_EQ(
      WaitForChanges(store, stop, std::chrono::milliseconds(5), std::chrono::milliseconds(100)),
      WaitResult::kStopped);
  close(stop);
}

TEST(ObjectStore, AnEmptyUpdateStillWakesTheReader) {
  ObjectStore store;
  store.Update("kube", [](auto&) {});
  EXPECT_EQ(WaitForChanges(store, -1, std::chrono::milliseconds(1), std::chrono::milliseconds(10)),
            WaitResult::kChanged);
}

}  // namespace
}  // namespace xgate::sources
