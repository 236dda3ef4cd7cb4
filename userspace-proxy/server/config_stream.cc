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
}

void ConfigStreamClient::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mutex_);
    if (context_) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
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
    auto reader = stub->Stream(&context, request);
    api::L7Config config;
    bool received = false;
    while (reader->Read(&config)) {
      if (!received) spdlog::info("config stream connected to {}", socket_path_);
      received = true;
      warned = false;
      backoff = 100ms;
      last_generation_ = config.generation();
      on_config_(config);
    }
    grpc::Status status = reader->Finish();
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
