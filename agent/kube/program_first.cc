#include "agent/kube/program_first.h"

namespace xgate::kube {

ProgramFirst::ProgramFirst(std::function<uint64_t()> version, std::chrono::milliseconds most)
    : version_(std::move(version)), most_(most) {}

bool ProgramFirst::Pending() const { return version_() > programmed_; }

void ProgramFirst::Programmed(uint64_t version) {
  {
    std::lock_guard lock(mu_);
    if (version > programmed_) programmed_ = version;
    if (!Pending()) unpaced_ = false;
  }
  cv_.notify_all();
}

ProgramFirst::Waited ProgramFirst::Wait() {
  std::unique_lock lock(mu_);
  if (!Pending()) {
    unpaced_ = false;
    return Waited::kNothingPending;
  }
  if (unpaced_) return Waited::kUnpaced;
  ++waiting_;
  const bool programmed = cv_.wait_for(lock, most_, [this] { return !Pending(); });
  --waiting_;
  if (programmed) return Waited::kProgrammed;
  unpaced_ = true;
  return Waited::kTimedOut;
}

int ProgramFirst::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

}  // namespace xgate::kube
