#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/fixtures/fixtures.h"
#include "tests/fixtures/folder_pipeline.h"

namespace xgate::pipeline {
namespace {

namespace fs = std::filesystem;

// Records the generation of each snapshot it is given; refuses them while `refuse` is set.
class RecordingApplier : public appliers::Applier {
 public:
  RecordingApplier(std::string name, std::vector<uint64_t>* applied, bool* refuse)
      : name_(std::move(name)), applied_(applied), refuse_(refuse) {}
  std::string Name() const override { return name_; }
  absl::Status Apply(const compiler::Snapshot& snapshot) override {
    if (*refuse_) return absl::UnavailableError("refusing on purpose");
    applied_->push_back(snapshot.generation);
    return absl::OkStatus();
  }
  void Stop(bool detach) override { stopped_detach_ = detach; }
  bool stopped_detach_ = false;

 private:
  std::string name_;
  std::vector<uint64_t>* applied_;
  bool* refuse_;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixtures::WriteSeedV1(dir_.path());
    std::vector<std::unique_ptr<appliers::Applier>> list;
    auto first = std::make_unique<RecordingApplier>("first", &first_, &first_refuses_);
    auto second = std::make_unique<RecordingApplier>("second", &second_, &second_refuses_);
    first_applier_ = first.get();
    second_applier_ = second.get();
    list.push_back(std::move(first));
    list.push_back(std::move(second));
    pipeline_ = std::make_unique<fixtures::FolderPipeline>(
        dir_.path(), std::vector<std::string>{"198.18.0.1"}, std::move(list));
  }

  fixtures::TempDir dir_;
  std::vector<uint64_t> first_, second_;
  bool first_refuses_ = false, second_refuses_ = false;
  RecordingApplier* first_applier_ = nullptr;
  RecordingApplier* second_applier_ = nullptr;
  std::unique_ptr<fixtures::FolderPipeline> pipeline_;
};

TEST_F(PipelineTest, AppliesEachSnapshotToEveryApplier) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  auto state = pipeline_->Current();
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->generation, 1u);
  EXPECT_EQ(state->loaded.store.http_routes.size(), 2u);
  EXPECT_TRUE(binder::AllAccepted(state->bound));
  // The node address is what the Gateway (without spec.addresses) serves on.
  ASSERT_EQ(state->bound.listeners.size(), 1u);
  EXPECT_THAT(state->bound.listeners[0].addresses, ::testing::ElementsAre("198.18.0.1"));
  EXPECT_THAT(first_, ::testing::ElementsAre(1u));
  EXPECT_THAT(second_, ::testing::ElementsAre(1u));
}

TEST_F(PipelineTest, AFailingApplierKeepsThePreviousSnapshotEverywhere) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  second_refuses_ = true;
  fixtures::WriteFile(dir_.path() / "ns.yaml",
                      "apiVersion: v1\nkind: Namespace\n"
                      "metadata: {name: extra}\n");
  absl::Status s = pipeline_->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("second: refusing on purpose"));
  // The first applier took snapshot 2, then was returned to snapshot 1.
  EXPECT_THAT(first_, ::testing::ElementsAre(1u, 2u, 1u));
  EXPECT_EQ(pipeline_->Current()->generation, 1u);
  EXPECT_FALSE(pipeline_->LastError().ok());

  second_refuses_ = false;
  ASSERT_TRUE(pipeline_->Reload().ok());
  EXPECT_EQ(pipeline_->Current()->generation, 3u);
  EXPECT_TRUE(pipeline_->LastError().ok());
}

TEST_F(PipelineTest, NothingChangedNothingApplied) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  ASSERT_TRUE(pipeline_->Reload().ok());
  EXPECT_EQ(pipeline_->Current()->generation, 1u);
  EXPECT_THAT(first_, ::testing::ElementsAre(1u));
}

TEST_F(PipelineTest, UnreadableFolderKeepsTheLastGoodState) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  fs::remove_all(dir_.path());
  EXPECT_FALSE(pipeline_->Reload().ok());
  EXPECT_EQ(pipeline_->Current()->generation, 1u);
  EXPECT_EQ(pipeline_->Current()->loaded.store.http_routes.size(), 2u);
  EXPECT_THAT(first_, ::testing::ElementsAre(1u));
}

TEST_F(PipelineTest, BadDocumentIsRefusedAndTheRestApplied) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  fixtures::WriteFile(dir_.path() / "bad.yaml", "kind: HTTPRoute\nmetadata: {name: [x\n");
  ASSERT_TRUE(pipeline_->Reload().ok());
  auto state = pipeline_->Current();
  EXPECT_EQ(state->generation, 2u);
  EXPECT_FALSE(state->loaded.errors.empty());
  EXPECT_EQ(state->loaded.store.http_routes.size(), 2u);
  EXPECT_THAT(second_, ::testing::ElementsAre(1u, 2u));
}

TEST_F(PipelineTest, ChangedSpecGetsTheNextGeneration) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  std::string foo = fixtures::ReadFile(dir_.path() / "foo.yaml");
  foo.replace(foo.find("value: /home"), 12, "value: /house");
  fixtures::WriteFile(dir_.path() / "foo.yaml", foo);
  ASSERT_TRUE(pipeline_->Reload().ok());
  const auto& store = pipeline_->Current()->loaded.store;
  EXPECT_EQ(store.http_routes.at({"foo", "foo-route"}).meta.generation, 2);
  EXPECT_EQ(store.http_routes.at({"bar", "bar-route"}).meta.generation, 1);
}

// PipelineInputs::max_gateway_listeners (xgate-agent --max-gateway-listeners) reaches the
// bind: with room for the Gateway's listener and one entry, the second entry is refused.
TEST_F(PipelineTest, TheListenerLimitReachesTheBind) {
  fixtures::WriteFile(dir_.path() / "listener-set.yaml", fixtures::GatewayWithListenerSetYaml());
  PipelineInputs inputs;
  inputs.max_gateway_listeners = 2;
  pipeline_->SetInputs(inputs);
  ASSERT_TRUE(pipeline_->Reload().ok());
  const auto& sets = pipeline_->Current()->bound.statuses.listener_sets;
  auto it = sets.find({"default", "ls"});
  ASSERT_NE(it, sets.end());
  ASSERT_EQ(it->second.listeners.size(), 2u);
  auto accepted = [](const model::ListenerStatus& l) {
    for (const auto& c : l.conditions) {
      if (c.type == "Accepted") return c.status + "/" + c.reason;
    }
    return std::string("missing");
  };
  EXPECT_EQ(accepted(it->second.listeners[0]), "True/Accepted");
  EXPECT_EQ(accepted(it->second.listeners[1]), "False/TooManyListeners");
}

// A pipeline prepared before its appliers exist (as the agent does while the fast path loads)
// applies nothing then, and its first reload applies what an unprepared pipeline's does,
// also when the folder changed after the preparing.
TEST_F(PipelineTest, APreparedPipelineAppliesWhatAnUnpreparedOneDoes) {
  fixtures::FolderPipeline prepared(dir_.path(), {"198.18.0.1"}, {});
  ASSERT_TRUE(prepared.folder_source().Sync().ok());
  prepared.Prepare();
  EXPECT_EQ(prepared.Current(), nullptr);
  std::vector<uint64_t> applied;
  bool refuse = false;
  std::vector<std::unique_ptr<appliers::Applier>> list;
  list.push_back(std::make_unique<RecordingApplier>("late", &applied, &refuse));
  prepared.SetAppliers(std::move(list));
  fixtures::WriteFile(dir_.path() / "extra.yaml", R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: extra, namespace: foo}
spec:
  parentRefs: [{name: prod-web, namespace: default}]
  hostnames: [extra.example.com]
  rules: [{backendRefs: [{name: foo-auth, port: 8080}]}]
)");
  ASSERT_TRUE(prepared.Reload().ok());
  ASSERT_TRUE(pipeline_->Reload().ok());
  EXPECT_THAT(applied, ::testing::ElementsAre(1u));
  auto a = prepared.Current(), b = pipeline_->Current();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->loaded.store.http_routes.size(), 3u);
  EXPECT_EQ(b->loaded.store.http_routes.size(), 3u);
  EXPECT_EQ(a->snapshot->l7.SerializeAsString(), b->snapshot->l7.SerializeAsString());
  EXPECT_EQ(a->snapshot->Summary(), b->snapshot->Summary());
}

TEST_F(PipelineTest, StopReachesEveryApplier) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  pipeline_->Stop(true);
  EXPECT_TRUE(first_applier_->stopped_detach_);
  EXPECT_TRUE(second_applier_->stopped_detach_);
}

}  // namespace
}  // namespace xgate::pipeline
