#include "userspace-proxy/server/config_stream.h"

#include <unistd.h>

#include <chrono>

#include "api/proxy.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"

namespace xgate::proxy {

ConfigStreamClient::ConfigStreamClient(std::string socket_path, OnConfig on_config)
    : socket_path_(std::move(socket_path)), on_config_(std::move(on_config)) {}

ConfigStreamClient::~ConfigStreamClient() { Stop(); }

void ConfigStreamClient::Start() {
  thread_ = std::thread([this] { Run(); });
  report_thread_ = std::thread([this] { ReportLoop(); });
}

void ConfigStreamClient::Report(const api::ListenReport& report) {
  {
    std::lock_guard lock(report_mutex_);
    report_ = report;
    report_.set_proxy_id("xgate-proxy pid " + std::to_string(getpid()));
    ++report_version_;
  }
  report_changed_.notify_all();
}

bool ConfigStreamClient::Send(const api::ListenReport& report) {
  auto channel = grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials());
  auto stub = api::ProxyConfig::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  api::ListenReportAck ack;
  grpc::Status status = stub->ReportListen(&context, report, &ack);
  if (!status.ok()) spdlog::debug("listen report: {}", status.error_message());
  return status.ok();
}

void ConfigStreamClient::ReportLoop() {
  using namespace std::chrono_literals;
  std::unique_lock lock(report_mutex_);
  uint64_t sent_version = 0, sent_connects = 0;
  auto due = [&] {
    return report_version_ > 0 && (report_version_ != sent_version || connects_ != sent_connects);
  };
  while (!stopping_) {
    report_changed_.wait(lock, [&] { return stopping_ || due(); });
    if (stopping_) break;
    api::ListenReport report = report_;
    uint64_t version = report_version_, connects = connects_;
    lock.unlock();
    bool sent = Send(report);
    lock.lock();
    if (sent) {
      sent_version = version;
      sent_connects = connects;
    } else {  // the agent is away: again after a while or at the next connect
      report_changed_.wait_for(lock, 1s, [&] { return stopping_ || connects_ != connects; });
    }
  }
}

void ConfigStreamClient::Stop() {
  {
    std::lock_guard report_lock(report_mutex_);
    stopping_ = true;
  }
  report_changed_.notify_all();
  {
    std::lock_guard lock(mutex_);
    if (context_) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  if (report_thread_.joinable()) report_thread_.join();
}

void ConfigStreamClient::Run() {
  using namespace std::chrono_literals;
  auto backoff = 100ms;
  bool warned = false;
  while (!stopping_) {
    auto channel = grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials());
    auto stub = api::ProxyConfig::NewStub(channel);
    grpc::ClientContext context;
    {
      std::lock_guard lock(mutex_);
      context_ = &context;
    }
    if (stopping_) context.TryCancel();
    api::StreamRequest request;
    request.set_proxy_id("xgate-proxy pid " + std::to_string(getpid()));
    request.set_have_generation(last_generation_);
    request.set_accepts_delta(true);
    auto reader = stub->Stream(&context, request);
    api::L7Config config;
    bool received = false, whole_again = false;
    while (!whole_again && reader->Read(&config)) {
      if (!received) {
        spdlog::info("config stream connected to {}", socket_path_);
        {
          std::lock_guard report_lock(report_mutex_);
          ++connects_;
        }
        report_changed_.notify_all();
      }
      received = true;
      warned = false;
      backoff = 100ms;
      uint64_t generation = config.generation(), base = config.base_generation();
      absl::Status applied = on_config_(std::move(config));
      if (applied.ok()) last_generation_ = generation;
      if (absl::IsFailedPrecondition(applied)) {
        spdlog::warn("config delta {} on generation {} not taken ({}); asking for the whole config",
                     generation, base, std::string(applied.message()));
        whole_again = true;
        context.TryCancel();
      }
    }
    grpc::Status status = reader->Finish();
    if (whole_again && !stopping_) {
      std::lock_guard lock(mutex_);
      context_ = nullptr;
      continue;  // at once, no backoff: the new stream starts with the whole config
    }
    {
      std::lock_guard lock(mutex_);
      context_ = nullptr;
    }
    if (stopping_) break;
    if (received || !warned) {
      spdlog::warn("config stream {}: {}; keeping generation {}, reconnecting", socket_path_,
                   status.ok() ? "ended" : status.error_message(), last_generation_.load());
      warned = true;
    }
    // Sleep with backoff, but wake at once on Stop().
    auto deadline = std::chrono::steady_clock::now() + backoff;
    while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
  }
}

}  // namespace xgate::proxy
