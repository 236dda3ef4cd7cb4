#include "agent/sources/kube/backoff.h"

#include <algorithm>
#include <random>

namespace xgate::kube {

Backoff::Backoff(Options options, std::function<double()> uniform)
    : options_(options), uniform_(std::move(uniform)) {
  if (!uniform_) {
    uniform_ = [engine = std::minstd_rand(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0, 1)(engine);
    };
  }
}

std::chrono::milliseconds Backoff::Next(std::optional<std::chrono::seconds> retry_after) {
  double base = static_cast<double>(options_.initial.count());
  for (int i = 0; i < failures_ && base < static_cast<double>(options_.cap.count()); ++i) base *= 2;
  base = std::min(base, static_cast<double>(options_.cap.count()));
  ++failures_;
  double wait = base * (1 - options_.jitter + 2 * options_.jitter * uniform_());
  wait = std::min(wait, static_cast<double>(options_.cap.count()));
  auto out = std::chrono::milliseconds(static_cast<int64_t>(wait));
  if (retry_after) {
    // The server knows best, but a Retry-After far beyond the cap is not waited out.
    auto server = std::min<std::chrono::milliseconds>(*retry_after, options_.cap);
    out = std::max(out, server);
  }
  return out;
}

}  // namespace xgate::kube
