#include "agent/pipeline/pipeline.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "agent/compiler/compiler.h"
#include "agent/pipeline/same_state.h"
#include "agent/status/status.h"
#include "spdlog/spdlog.h"

namespace xgate::pipeline {

Pipeline::Pipeline(const sources::ObjectStore& store, std::vector<std::string> node_addresses,
                   std::vector<std::unique_ptr<appliers::Applier>> appliers,
                   PipelineOptions options)
    : store_(store),
      options_(options),
      node_addresses_(std::move(node_addresses)),
      appliers_(std::move(appliers)) {}

std::shared_ptr<const State> Pipeline::Current() const {
  std::lock_guard lock(state_mu_);
  return current_;
}

absl::Status Pipeline::LastError() const {
  std::lock_guard lock(state_mu_);
  return last_error_;
}

Pipeline::Counters Pipeline::counters() const {
  std::lock_guard lock(state_mu_);
  return counters_;
}

absl::Status Pipeline::ApplyAll(const std::shared_ptr<const compiler::Snapshot>& next,
                                const std::shared_ptr<const compiler::Snapshot>& previous,
                                std::string* split) {
  for (size_t i = 0; i < appliers_.size(); ++i) {
    auto start = std::chrono::steady_clock::now();
    absl::Status s = appliers_[i]->ApplyShared(next);
    absl::StrAppendFormat(
        split, "%s%s %.1f", i == 0 ? "" : ", ", appliers_[i]->Name(),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (s.ok()) continue;
    // Whole or not at all: the appliers that took the new snapshot go back to the old one.
    for (size_t j = 0; previous && j < i; ++j) {
      absl::Status back = appliers_[j]->ApplyShared(previous);
      if (!back.ok()) {
        spdlog::error("{}: could not return to snapshot {}: {}", appliers_[j]->Name(),
                      previous->generation, std::string(back.message()));
      }
    }
    return absl::Status(s.code(), appliers_[i]->Name() + ": " + std::string(s.message()));
  }
  return absl::OkStatus();
}

binder::BindOptions Pipeline::BindOptionsOn(const State* previous) const {
  binder::BindOptions options;
  options.node_addresses = node_addresses_;
  options.now = status::NowRfc3339();
  if (inputs_.unavailable_ports) options.unavailable_ports = inputs_.unavailable_ports();
  if (previous) options.previous = &previous->bound.statuses;
  options.max_gateway_listeners = inputs_.max_gateway_listeners;
  return options;
}

compiler::CompileOptions Pipeline::CompileOptionsNow() const {
  return inputs_.compile_options ? inputs_.compile_options() : compiler::CompileOptions{};
}

void Pipeline::SetAppliers(std::vector<std::unique_ptr<appliers::Applier>> appliers) {
  std::lock_guard reload_lock(reload_mu_);
  appliers_ = std::move(appliers);
}

std::shared_ptr<const compiler::Snapshot> Pipeline::Prepare() {
  std::lock_guard reload_lock(reload_mu_);
  if (Current() != nullptr) return nullptr;
  auto start = std::chrono::steady_clock::now();
  auto loaded = store_.Load(nullptr);
  if (!loaded.ok()) return nullptr;  // the first Reload says why
  auto state = std::make_shared<State>();
  state->loaded = *std::move(loaded);
  state->bound = binder::Bind(state->loaded.store, BindOptionsOn(nullptr), &bind_memo_);
  state->snapshot = compiler::Compile(state->bound, 0, CompileOptionsNow(), &compile_memo_);
  spdlog::info(
      "prepared {} objects before the data planes are up ({:.1f} ms)", state->loaded.store.Size(),
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  prepared_ = std::move(state);
  return prepared_->snapshot;
}

absl::Status Pipeline::Reload() {
  std::lock_guard reload_lock(reload_mu_);
  // Where a reload's time went, for its log line: ms since the previous mark.
  auto mark = std::chrono::steady_clock::now();
  auto lap = [&mark] {
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - mark).count();
    mark = now;
    return ms;
  };
  std::shared_ptr<const State> previous = Current();
  auto record = [&](absl::Status s, uint64_t Counters::*outcome) {
    std::lock_guard lock(state_mu_);
    last_error_ = s;
    ++(counters_.*outcome);
    return s;
  };

  // Generations carried in the store's kept result: the next load shares the carried objects.
  auto loaded =
      store_.Load(previous && options_.carry_generations ? &previous->loaded.store : nullptr);
  if (!loaded.ok()) {
    spdlog::error("{}; keeping snapshot {}", std::string(loaded.status().message()),
                  previous ? previous->generation : 0);
    return record(loaded.status(), &Counters::unreadable);
  }
  auto next = std::make_shared<State>();
  next->loaded = *std::move(loaded);
  const double load_ms = lap();
  for (const auto& e : next->loaded.errors) spdlog::warn("refused: {}", e.ToString());

  binder::BindOptions options = BindOptionsOn(previous.get());
  next->bound = binder::Bind(next->loaded.store, options, &bind_memo_);
  if (previous) status::CarryTransitionTimes(previous->bound.statuses, next->bound.statuses);
  const double bind_ms = lap();
  // The local pods decide which endpoints get flows: a change there is a change.
  compiler::CompileOptions compile_options = CompileOptionsNow();
  next->local_pods = compile_options.local_pods;
  // The data planes hold `previous` (a failed apply rolled them back to it): nothing to do.
  if (previous && previous->local_pods == next->local_pods &&
      SameState(previous->loaded, previous->bound.statuses, next->loaded, next->bound.statuses)) {
    spdlog::info("no change since snapshot {}", previous->generation);
    return record(absl::OkStatus(), &Counters::unchanged);
  }
  next->generation = next_generation_++;
  next->snapshot =
      compiler::Compile(next->bound, next->generation, compile_options, &compile_memo_);
  next->applied_at = options.now;
  const double compile_ms = lap();

  auto start = std::chrono::steady_clock::now();
  std::string apply_split;  // ms per applier
  absl::Status applied =
      ApplyAll(next->snapshot, previous ? previous->snapshot : nullptr, &apply_split);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard lock(state_mu_);
    for (size_t i = 0; i < Counters::kApplyBuckets.size(); ++i) {
      if (seconds <= Counters::kApplyBuckets[i]) ++counters_.apply_seconds_le[i];
    }
    ++counters_.apply_count;
    counters_.apply_seconds_sum += seconds;
  }
  if (!applied.ok()) {
    spdlog::error("snapshot {} not applied: {}; keeping snapshot {}", next->generation,
                  std::string(applied.message()), previous ? previous->generation : 0);
    return record(applied, &Counters::apply_failed);
  }
  spdlog::info(
      "snapshot {} applied: {} objects, {} refused documents{} (ms: load {:.1f}, bind {:.1f}, "
      "compile {:.1f}, apply {:.1f}: {})",
      next->generation, next->loaded.store.Size(), next->loaded.errors.size(),
      binder::AllAccepted(next->bound) ? "" : ", some objects not accepted", load_ms, bind_ms,
      compile_ms, seconds * 1e3, apply_split);
  for (const auto& line : next->snapshot->Summary()) spdlog::info("  {}", line);
  {
    std::lock_guard lock(state_mu_);
    current_ = next;
    prepared_ = nullptr;  // the memos now hold what `next` holds
    last_error_ = absl::OkStatus();
    ++counters_.applied;
  }
  return absl::OkStatus();
}

void Pipeline::Stop(bool detach) {
  for (auto& a : appliers_) {
    spdlog::info("stopping {}{}", a->Name(), detach ? " (detaching)" : "");
    a->Stop(detach);
  }
}

}  // namespace xgate::pipeline
