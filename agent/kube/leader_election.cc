#include "agent/kube/leader_election.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

// A 409 on the write means someone else wrote first: read again this many times at once.
constexpr int kConflictRereads = 2;

const Resource kLeases{"coordination.k8s.io", "v1", "leases", true};

std::string StringField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t IntField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Why a call failed: no answer, or the answer's error.
std::string Why(const absl::StatusOr<Response>& response) {
  return std::string(response.ok() ? ToStatus(*response).message() : response.status().message());
}

}  // namespace

std::string NowMicroTime() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
}

LeaderElector::LeaderElector(Api& api, LeaseOptions options, Clock clock)
    : api_(api), options_(std::move(options)), clock_(std::move(clock)) {}

LeaderElector::~LeaderElector() { Stop(false); }

absl::Status LeaderElector::Validate(const LeaseOptions& o) {
  if (o.identity.empty()) return absl::InvalidArgumentError("Lease: the identity is empty");
  if (o.ns.empty() || o.name.empty()) {
    return absl::InvalidArgumentError("Lease: namespace and name must be set");
  }
  if (o.lease_duration < std::chrono::seconds(1) || o.renew_deadline >= o.lease_duration ||
      o.retry_period >= o.renew_deadline || o.retry_period <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Lease: need 0 < retry period (", o.retry_period.count(),
                     " ms) < renew deadline (", o.renew_deadline.count(), " ms) < lease duration (",
                     o.lease_duration.count(), " s), duration >= 1 s"));
  }
  return absl::OkStatus();
}

std::string LeaderElector::LeasePath() const { return kLeases.Path(options_.ns, options_.name); }

json LeaderElector::NewRecord() const {
  std::string now = NowMicroTime();
  return {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", options_.lease_duration.count()},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}};
}

void LeaderElector::Observe(const json& spec, SteadyTime now) {
  std::string serialized = spec.dump();
  std::lock_guard lock(mu_);
  if (serialized == observed_spec_) return;
  observed_spec_ = std::move(serialized);
  observed_holder_ = StringField(spec, "holderIdentity");
  observed_time_ = now;
}

void LeaderElector::BecomeHolder(const json& spec, SteadyTime now) {
  {
    std::lock_guard lock(mu_);
    observed_spec_ = spec.dump();
    observed_holder_ = options_.identity;
    observed_time_ = now;
    last_renew_ = now;
  }
  SetLeader(true);
}

void LeaderElector::SetLeader(bool leader) {
  {
    std::lock_guard lock(mu_);
    if (leader_ == leader) return;
    leader_ = leader;
    ++transitions_;
  }
  spdlog::info("Lease {}/{}: {} {}", options_.ns, options_.name, options_.identity,
               leader ? "now holds it and writes status" : "no longer holds it");
  for (const auto& observer : observers_) observer(leader);
}

bool LeaderElector::TryAcquireOrRenew() {
  if (absl::Status valid = Validate(options_); !valid.ok()) {
    spdlog::error("{}", std::string(valid.message()));
    return false;
  }
  const std::string path = LeasePath();
  for (int attempt = 0; attempt <= kConflictRereads; ++attempt) {
    SteadyTime now = clock_();
    absl::StatusOr<Response> got = api_.Get(path);
    if (!got.ok()) {
      spdlog::warn("Lease {}/{}: cannot read it: {}", options_.ns, options_.name,
                   std::string(got.status().message()));
      return false;
    }
    if (got->code == 404) {
      json lease = {{"apiVersion", kLeases.ApiVersion()},
                    {"kind", "Lease"},
                    {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                    {"spec", NewRecord()}};
      absl::StatusOr<Response> created = api_.Create(kLeases.Path(options_.ns), lease);
      if (created.ok() && created->ok()) {
        BecomeHolder(lease["spec"], now);
        return true;
      }
      if (created.ok() && created->code == 409) continue;  // created by another agent first
      spdlog::warn("Lease {}/{}: cannot create it: {}", options_.ns, options_.name, Why(created));
      return false;
    }
    if (!got->ok()) {
      spdlog::warn("Lease {}/{}: cannot read it: {}", options_.ns, options_.name,
                   std::string(ToStatus(*got).message()));
      return false;
    }
    json lease = got->Json();
    if (!lease.is_object() || !lease.contains("metadata")) {
      spdlog::warn("Lease {}/{}: the answer is not a Lease", options_.ns, options_.name);
      return false;
    }
    json spec = lease.value("spec", json::object());
    if (!spec.is_object()) spec = json::object();
    Observe(spec, now);

    std::string holder = StringField(spec, "holderIdentity");
    int64_t duration = IntField(spec, "leaseDurationSeconds");
    if (duration <= 0) duration = options_.lease_duration.count();
    if (!holder.empty() && holder != options_.identity) {
      SteadyTime observed_time;
      {
        std::lock_guard lock(mu_);
        observed_time = observed_time_;
      }
      if (now < observed_time + std::chrono::seconds(duration)) {
        SetLeader(false);
        return false;
      }
      spdlog::info("Lease {}/{}: {} stopped renewing it ({} s unchanged); taking it over",
                   options_.ns, options_.name, holder, duration);
    }

    json record = NewRecord();
    int64_t lease_transitions = IntField(spec, "leaseTransitions");
    if (holder == options_.identity) {
      if (spec.contains("acquireTime")) record["acquireTime"] = spec["acquireTime"];
      record["leaseTransitions"] = lease_transitions;
    } else {
      record["leaseTransitions"] = lease_transitions + 1;
    }
    lease["spec"] = record;  // metadata.resourceVersion, as read, makes the write conditional
    absl::StatusOr<Response> updated = api_.Update(path, lease);
    if (updated.ok() && updated->ok()) {
      BecomeHolder(record, now);
      return true;
    }
    if (updated.ok() && updated->code == 409) {
      spdlog::debug("Lease {}/{}: changed since read (409); reading again", options_.ns,
                    options_.name);
      continue;
    }
    spdlog::warn("Lease {}/{}: cannot write it: {}", options_.ns, options_.name, Why(updated));
    return false;
  }
  return false;
}

void LeaderElector::CheckRenewDeadline() {
  bool expired;
  {
    std::lock_guard lock(mu_);
    expired = leader_ && clock_() - last_renew_ >= options_.renew_deadline;
  }
  if (expired) {
    spdlog::warn("Lease {}/{}: not renewed for {} ms", options_.ns, options_.name,
                 options_.renew_deadline.count());
    SetLeader(false);
  }
}

absl::Status LeaderElector::Release() {
  {
    std::lock_guard lock(mu_);
    if (observed_holder_ != options_.identity) return absl::OkStatus();
  }
  const std::string path = LeasePath();
  absl::Status result = absl::AbortedError("Lease: conflicts on every release attempt");
  for (int attempt = 0; attempt <= kConflictRereads; ++attempt) {
    absl::StatusOr<Response> got = api_.Get(path);
    if (!got.ok()) {
      result = got.status();
      break;
    }
    if (!got->ok()) {
      result = got->code == 404 ? absl::OkStatus() : ToStatus(*got);
      break;
    }
    json lease = got->Json();
    json& spec = lease["spec"];
    if (!spec.is_object() || StringField(spec, "holderIdentity") != options_.identity) {
      result = absl::OkStatus();  // someone else holds it already
      break;
    }
    std::string now = NowMicroTime();
    spec.erase("holderIdentity");
    spec["leaseDurationSeconds"] = 1;
    spec["acquireTime"] = now;
    spec["renewTime"] = now;
    absl::StatusOr<Response> updated = api_.Update(path, lease);
    if (!updated.ok()) {
      result = updated.status();
      break;
    }
    if (updated->code == 409) continue;
    result = ToStatus(*updated);
    if (result.ok()) {
      spdlog::info("Lease {}/{}: released by {}", options_.ns, options_.name, options_.identity);
      std::lock_guard lock(mu_);
      observed_spec_ = spec.dump();
      observed_holder_.clear();
    }
    break;
  }
  SetLeader(false);
  return result;
}

absl::Status LeaderElector::Start() {
  if (absl::Status valid = Validate(options_); !valid.ok()) return valid;
  if (thread_.joinable()) return absl::FailedPreconditionError("Lease: already started");
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void LeaderElector::Loop() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.0, 0.2);
  while (true) {
    TryAcquireOrRenew();
    CheckRenewDeadline();
    // The holder renews every retry period; the others retry a little later each, so they
    // do not all ask at the same instant (client-go's jitter factor 1.2).
    auto wait = options_.retry_period;
    if (!IsLeader()) {
      wait += std::chrono::duration_cast<std::chrono::milliseconds>(wait * jitter(rng));
    }
    std::unique_lock lock(stop_mu_);
    if (stop_cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

void LeaderElector::Stop(bool release) {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (release) {
    if (absl::Status released = Release(); !released.ok()) {
      spdlog::warn("Lease {}/{}: release failed ({}); the next agent takes over after {} s",
                   options_.ns, options_.name, std::string(released.message()),
                   options_.lease_duration.count());
    }
  }
}

bool LeaderElector::IsLeader() const {
  std::lock_guard lock(mu_);
  return leader_ && clock_() - last_renew_ < options_.renew_deadline;
}

std::string LeaderElector::ObservedHolder() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

uint64_t LeaderElector::transitions() const {
  std::lock_guard lock(mu_);
  return transitions_;
}

void LeaderElector::AddObserver(std::function<void(bool)> on_change) {
  observers_.push_back(std::move(on_change));
}

}  // namespace xgate::kube
