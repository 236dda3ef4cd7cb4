#include "userspace-proxy/server/server.h"

#include <csignal>
#include <thread>

#include "spdlog/spdlog.h"

namespace xgate::proxy {

Server::Server(ServerOptions options) : options_(options) {
  if (options_.workers < 1) options_.workers = 1;
  for (int i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
  }
}

Server::~Server() { Stop(); }

void Server::Start() {
  if (started_) return;
  started_ = true;
  // OpenSSL writes to sockets with write(2): a peer that went away must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  for (auto& worker : workers_) worker->Start();
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  for (auto& worker : workers_) worker->Stop();
}

absl::Status Server::Apply(const api::L7Config& proto) {
  std::lock_guard lock(apply_mutex_);
  auto config = Config::Build(proto, options_.http2);
  if (!config.ok()) {
    spdlog::error("config generation {} rejected, keeping generation {}: {}", proto.generation(),
                  config_.load() ? config_.load()->generation() : 0, config.status().ToString());
    return config.status();
  }
  config_.store(*config);
  version_.fetch_add(1, std::memory_order_release);
  for (auto& worker : workers_) worker->Notify();
  spdlog::info("config generation {} applied: {} ports, {} clusters, {} certificates",
               proto.generation(), proto.ports_size(), proto.clusters_size(),
               proto.certificates_size());
  return absl::OkStatus();
}

api::ProxyStats Server::Stats() const {
  std::vector<const stats::WorkerStats*> all;
  for (const auto& worker : workers_) all.push_back(&worker->stats());
  std::shared_ptr<const Config> config = config_.load();
  static const std::set<std::string, std::less<>> kNone;
  api::ProxyStats out = stats::CollectStats(all, config ? config->route_names() : kNone,
                                            config ? config->cluster_names() : kNone);
  out.set_generation(config ? config->generation() : 0);
  return out;
}

bool Server::WaitApplied(uint64_t generation, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (const auto& worker : workers_) all = all && worker->applied_generation() == generation;
    if (all) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace xgate::proxy
