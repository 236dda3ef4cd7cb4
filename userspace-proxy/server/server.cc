#include "userspace-proxy/server/server.h"

#include <algorithm>
#include <csignal>
#include <thread>

#include "spdlog/spdlog.h"

namespace xgate::proxy {

Server::Server(ServerOptions options)
    : options_(options), listen_(std::max(1, options.workers), options.listen_backoff) {
  if (options_.workers < 1) options_.workers = 1;
  listen_set_.store(listen_.set());
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
  {
    std::lock_guard lock(listen_mutex_);
    stopping_ = false;
  }
  retry_thread_ = std::thread([this] { RetryListen(); });
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard lock(listen_mutex_);
    stopping_ = true;
  }
  listen_changed_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
  for (auto& worker : workers_) worker->Stop();
}

absl::Status Server::Apply(api::L7Config proto) {
  std::lock_guard lock(apply_mutex_);
  uint64_t generation = proto.generation();
  std::shared_ptr<const Config> current = config_.load();
  auto config = Config::Build(std::move(proto), options_.http2, current.get());
  if (!config.ok()) {
    spdlog::error("config generation {} rejected, keeping generation {}: {}", generation,
                  current ? current->generation() : 0, config.status().ToString());
    return config.status();
  }
  // Sockets first: a worker that sees the new config sees its listeners too (WaitApplied).
  api::ListenReport report;
  {
    std::lock_guard lock(listen_mutex_);
    listen_.Sync((*config)->table().config());
    listen_set_.store(listen_.set());
    report = listen_.Report();
  }
  const Config& applied = **config;
  config_.store(*config);
  retired_ = std::move(current);
  version_.fetch_add(1, std::memory_order_release);
  for (auto& worker : workers_) worker->Notify();
  listen_changed_.notify_all();
  if (reporter_) reporter_(report);
  spdlog::info("config generation {} applied{}: {} ports, {} clusters, {} certificates", generation,
               applied.table().config().base_generation() != 0 ? " (a delta)" : "",
               applied.table().ports().size(), applied.cluster_count(),
               applied.certificate_count());
  return absl::OkStatus();
}

void Server::InheritListeners(std::vector<HandedGroup> groups) {
  std::lock_guard lock(listen_mutex_);
  listen_.Inherit(std::move(groups));
}

std::vector<HandedGroup> Server::ReleaseListeners() {
  std::vector<HandedGroup> groups;
  {
    std::lock_guard lock(listen_mutex_);
    groups = listen_.Release();
    listen_set_.store(listen_.set());
  }
  for (auto& worker : workers_) worker->Notify();
  // Every worker must have taken its sockets out of epoll before they are closed here: the
  // file stays open in the next proxy, and an epoll entry would outlive the fd number.
  const ListenSet* empty = listen_set_.load().get();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (auto& worker : workers_) {
    while (worker->synced_listen_set() != empty && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return groups;
}

void Server::Drain() {
  for (auto& worker : workers_) worker->Drain();
}

int64_t Server::OpenConnections() const {
  int64_t open = 0;
  for (const auto& worker : workers_) open += worker->stats().DownstreamOpen();
  return open;
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

// Holds listen_mutex_ on entry and on return; the reporter runs without it.
void Server::PublishListen(std::unique_lock<std::mutex>& lock) {
  listen_set_.store(listen_.set());
  api::ListenReport report = listen_.Report();
  for (auto& worker : workers_) worker->Notify();
  if (!reporter_) return;
  lock.unlock();
  reporter_(report);
  lock.lock();
}

void Server::RetryListen() {
  std::unique_lock lock(listen_mutex_);
  while (!stopping_) {
    auto next = listen_.NextRetry();
    if (next == ListenSockets::Clock::time_point::max()) {
      listen_changed_.wait(lock);
    } else {
      listen_changed_.wait_until(lock, next);
    }
    if (stopping_) break;
    if (listen_.Retry(ListenSockets::Clock::now())) PublishListen(lock);
  }
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
