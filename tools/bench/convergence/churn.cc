#include "tools/bench/convergence/churn.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "tools/bench/convergence/bench_routes.h"

namespace xgate::bench {
namespace {

nlohmann::json ChurnRoute(int i, int generation) {
  return HttpRoute(absl::StrCat("churn-", i),
                   absl::StrCat("churn-", i, "-", generation, ".example.com"), 1, 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Churn>> Churn::Start(std::unique_ptr<RouteWriter> writer,
                                                    GatewayProbe& probe, int count,
                                                    std::chrono::milliseconds interval,
                                                    Clock::time_point deadline) {
  for (int i = 0; i < count; ++i) {
    if (absl::Status s = writer->Create(ChurnRoute(i, 0)); !s.ok()) return s;
  }
  auto served = probe.Until(
      absl::StrCat("churn-", count - 1, "-0.example.com"),
      [](const GatewayAnswer& a) { return a.code == 200; }, deadline);
  if (!served.ok()) return served.status();
  std::unique_ptr<Churn> churn(new Churn(std::move(writer), count, interval));
  churn->thread_ = std::thread([c = churn.get()] { c->Run(); });
  return churn;
}

Churn::Churn(std::unique_ptr<RouteWriter> writer, int count, std::chrono::milliseconds interval)
    : writer_(std::move(writer)), count_(count), interval_(interval) {}

Churn::~Churn() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int i = 0; i < count_; ++i) writer_->Delete(ChurnRoute(i, 0)).IgnoreError();
}

void Churn::Run() {
  for (int n = 1; !stop_; ++n) {
    Clock::time_point next = Clock::now() + interval_;
    if (absl::Status s = writer_->Change(ChurnRoute(n % count_, n)); !s.ok()) {
      if (errors_++ == 0) spdlog::warn("churn write: {}", std::string(s.message()));
    } else {
      ++writes_;
    }
    std::this_thread::sleep_until(next);
  }
}

}  // namespace xgate::bench
