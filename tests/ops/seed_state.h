// The seed article's scenario (seed-v1 + a generated Secret) and the shared L4 example,
// loaded, bound and compiled in this process with no data plane, on node address 198.18.0.1.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tests/fixtures/fixtures.h"
#include "tests/fixtures/folder_pipeline.h"

namespace xgate::testing {

class SeedState {
 public:
  SeedState() {
    manifests_ = tmp_.path() / "manifests";
    std::filesystem::create_directory(manifests_);
    fixtures::WriteSeedV1(manifests_);
    fixtures::WriteFile(manifests_ / "l4.yaml",
                        fixtures::ReadFile(std::string(XGATE_SHARED_DIR) + "/examples/l4/l4.yaml"));
    pipeline_ = std::make_unique<fixtures::FolderPipeline>(
        manifests_, std::vector<std::string>{"198.18.0.1"},
        std::vector<std::unique_ptr<appliers::Applier>>{});
    status_ = pipeline_->Reload();
  }
  const absl::Status& reload_status() const { return status_; }
  const compiler::Snapshot& snapshot() const { return *pipeline_->Current()->snapshot; }
  fixtures::FolderPipeline& pipeline() { return *pipeline_; }
  const std::filesystem::path& tmp() const { return tmp_.path(); }

 private:
  fixtures::TempDir tmp_;
  std::filesystem::path manifests_;
  std::unique_ptr<fixtures::FolderPipeline> pipeline_;
  absl::Status status_;
};

}  // namespace xgate::testing
