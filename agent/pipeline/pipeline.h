// The agent's reconcile step: load the object store (whatever sources feed it), bind,
// compile, and hand the Snapshot to every applier, whole or not at all.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/appliers/applier.h"
#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/compiler/snapshot.h"
#include "agent/model/loader.h"
#include "agent/sources/store.h"

namespace xgate::pipeline {

// One applied state. Immutable once published; `bound` points into `loaded.store`, so a
// State is only ever handled through a shared_ptr and never moved.
struct State {
  uint64_t generation = 0;  // the snapshot's generation
  model::LoadResult loaded;
  binder::BindResult bound;
  std::shared_ptr<const compiler::Snapshot> snapshot;
  std::string applied_at;  // RFC 3339
  // The local pods it was compiled with (compiler::CompileOptions::local_pods).
  std::optional<std::set<std::string>> local_pods;
};

// What a reload reads besides the folder, asked afresh each time.
struct PipelineInputs {
  // Steering and the node's own addresses (which punted addresses are steered).
  std::function<compiler::CompileOptions()> compile_options;
  // The (address, port) pairs the proxy reports it cannot listen on, and why.
  std::function<std::map<std::pair<std::string, int>, std::string>()> unavailable_ports;
  size_t max_gateway_listeners = binder::kDefaultMaxGatewayListeners;  // BindOptions'
};

struct PipelineOptions {
  // Standalone sources keep metadata.generation as the API server would (see
  // model::CarryGenerations); objects from the API server carry the server's own.
  bool carry_generations = true;
};

class Pipeline {
 public:
  Pipeline(const sources::ObjectStore& store, std::vector<std::string> node_addresses,
           std::vector<std::unique_ptr<appliers::Applier>> appliers, PipelineOptions options = {});

  // Before the first Reload.
  void SetInputs(PipelineInputs inputs) { inputs_ = std::move(inputs); }
  // Before the first Reload, for a pipeline made without its appliers (they take a while to
  // set up: see Prepare).
  void SetAppliers(std::vector<std::unique_ptr<appliers::Applier>> appliers);

  // Before the first Reload (after SetInputs), while the appliers are still being set up:
  // loads, binds and compiles what the store holds into the memos and applies nothing, so the
  // first Reload finds that work done (10,000 routes: a few hundred ms off a cold start). The
  // prepared state is kept until a Reload succeeds: the memos point into its objects.
  // Returns the prepared snapshot (null when the store could not be loaded).
  std::shared_ptr<const compiler::Snapshot> Prepare();

  // Loads the store and applies the result. On error (a source unreadable, an applier
  // refused the snapshot) the previous state stays applied and current, and the error says why.
  absl::Status Reload();

  // The state last applied; nullptr before the first success.
  std::shared_ptr<const State> Current() const;
  // Why the last Reload kept the previous state (OK when it did not).
  absl::Status LastError() const;

  // How reloads ended so far (for metrics).
  struct Counters {
    uint64_t applied = 0;       // a new snapshot reached every applier
    uint64_t unchanged = 0;     // nothing to apply
    uint64_t apply_failed = 0;  // an applier refused; the previous snapshot stayed
    uint64_t unreadable = 0;    // a source could not be read; the previous state stayed
    // How long handing a new snapshot to the appliers took (applied or failed), as a
    // histogram: apply_seconds_le[i] counts applies that took at most kApplyBuckets[i].
    static constexpr std::array<double, 12> kApplyBuckets = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
    std::array<uint64_t, kApplyBuckets.size()> apply_seconds_le{};
    uint64_t apply_count = 0;
    double apply_seconds_sum = 0;
  };
  Counters counters() const;

  // Stops every applier (`detach`: remove what they installed).
  void Stop(bool detach);

 private:
  binder::BindOptions BindOptionsOn(const State* previous) const;
  compiler::CompileOptions CompileOptionsNow() const;
  absl::Status ApplyAll(const std::shared_ptr<const compiler::Snapshot>& next,
                        const std::shared_ptr<const compiler::Snapshot>& previous,
                        std::string* split);

  const sources::ObjectStore& store_;
  const PipelineOptions options_;
  const std::vector<std::string> node_addresses_;
  std::vector<std::unique_ptr<appliers::Applier>> appliers_;
  PipelineInputs inputs_;
  std::mutex reload_mu_;  // one reload at a time
  mutable std::mutex state_mu_;
  std::shared_ptr<const State> current_;
  std::shared_ptr<const State> prepared_;  // under reload_mu_: Prepare's, until a Reload succeeds
  absl::Status last_error_;
  Counters counters_;
  uint64_t next_generation_ = 1;
  binder::BindMemo bind_memo_;          // under reload_mu_
  compiler::CompileMemo compile_memo_;  // under reload_mu_
};

}  // namespace xgate::pipeline
