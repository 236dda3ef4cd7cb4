#include "agent/sources/folder_edit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/model/loader.h"
#include "tests/fixtures/fixtures.h"

namespace xgate::sources {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBaz[] =
    "apiVersion: gateway.networking.k8s.io/v1\n"
    "kind: HTTPRoute\n"
    "metadata: {name: baz, namespace: foo}\n"
    "spec:\n"
    "  parentRefs: [{name: prod-web, namespace: default}]\n"
    "  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]\n";

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

model::LoadResult Load(const fs::path& dir) {
  auto loaded = model::LoadDirectory(dir);
  EXPECT_TRUE(loaded.ok());
  return *loaded;
}

class FolderEdit : public ::testing::Test {
 protected:
  void SetUp() override { fixtures::WriteSeedV1(dir_.path()); }
  fixtures::TempDir dir_;
};

TEST_F(FolderEdit, NewObjectGetsItsOwnFile) {
  auto change = ApplyManifest(dir_.path(), kBaz, "baz.yaml");
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_THAT(change->changed, ElementsAre("HTTPRoute foo/baz"));
  EXPECT_EQ(fixtures::ReadFile(dir_.path() / "httproute-foo-baz.yaml"), kBaz);
  auto loaded = Load(dir_.path());
  EXPECT_TRUE(loaded.errors.empty());
  EXPECT_EQ(loaded.store.http_routes.count({"foo", "baz"}), 1u);
}

TEST_F(FolderEdit, ExistingObjectIsReplacedWhereItIsDefined) {
  std::string foo = fixtures::ReadFile(dir_.path() / "foo.yaml");
  std::string route = foo.substr(0, foo.find("---"));
  route.replace(route.find("value: /home"), 12, "value: /house");
  auto change = ApplyManifest(dir_.path(), route, "edited.yaml");
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_THAT(change->changed, ElementsAre("HTTPRoute foo/foo-route"));
  EXPECT_THAT(Files(dir_.path()),
              ElementsAre("bar.yaml", "foo.yaml", "gateway.yaml", "secret.yaml"));
  std::string after = fixtures::ReadFile(dir_.path() / "foo.yaml");
  EXPECT_THAT(after, HasSubstr("value: /house"));
  // The file's other documents are kept as they were.
  EXPECT_EQ(after.substr(after.find("---")), foo.substr(foo.find("---")));
  auto loaded = Load(dir_.path());
  EXPECT_TRUE(loaded.errors.empty());
  EXPECT_EQ(loaded.store.services.size(), 5u);
  EXPECT_EQ(loaded.store.http_routes.at({"foo", "foo-route"}).rules[1].matches[0].path.value,
            "/house");
}

TEST_F(FolderEdit, ManifestThatDoesNotLoadWritesNothing) {
  std::string before = fixtures::ReadFile(dir_.path() / "foo.yaml");
  std::string bad = std::string(kBaz) + "---\nkind: HTTPRoute\nmetadata: {name: [x\n";
  auto change = ApplyManifest(dir_.path(), bad, "bad.yaml");
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(change.status().message()), HasSubstr("bad.yaml:"));
  EXPECT_THAT(Files(dir_.path()),
              ElementsAre("bar.yaml", "foo.yaml", "gateway.yaml", "secret.yaml"));
  EXPECT_EQ(fixtures::ReadFile(dir_.path() / "foo.yaml"), before);
}

TEST_F(FolderEdit, DeleteRemovesOnlyThatDocument) {
  std::string bar = fixtures::ReadFile(dir_.path() / "bar.yaml");
  std::string route = bar.substr(0, bar.find("---"));
  auto change = DeleteManifest(dir_.path(), route, "bar-route.yaml");
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_THAT(change->changed, ElementsAre("HTTPRoute bar/bar-route"));
  auto loaded = Load(dir_.path());
  EXPECT_TRUE(loaded.errors.empty());
  EXPECT_EQ(loaded.store.http_routes.count({"bar", "bar-route"}), 0u);
  EXPECT_EQ(loaded.store.services.count({"bar", "bar-v1"}), 1u);
}

TEST_F(FolderEdit, DeletingTheLastDocumentRemovesTheFile) {
  ASSERT_TRUE(ApplyManifest(dir_.path(), kBaz, "baz.yaml").ok());
  auto change = DeleteManifest(dir_.path(), kBaz, "baz.yaml");
  ASSERT_TRUE(change.ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "httproute-foo-baz.yaml"));
}

TEST_F(FolderEdit, DeletingWhatIsNotThereSaysSo) {
  auto change = DeleteManifest(dir_.path(), kBaz, "baz.yaml");
  ASSERT_TRUE(change.ok());
  EXPECT_TRUE(change->changed.empty());
  EXPECT_THAT(change->not_found, ElementsAre("HTTPRoute foo/baz"));
}

TEST_F(FolderEdit, ObjectInsideAListIsNotRewritten) {
  fixtures::WriteFile(dir_.path() / "list.yaml",
                      "apiVersion: v1\nkind: List\nitems:\n"
                      "- {apiVersion: v1, kind: Namespace, metadata: {name: one}}\n"
                      "- {apiVersion: v1, kind: Namespace, metadata: {name: two}}\n");
  auto change = ApplyManifest(dir_.path(),
                              "apiVersion: v1\nkind: Namespace\nmetadata: {name: one, labels: "
                              "{a: b}}\n",
                              "one.yaml");
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace xgate::sources
