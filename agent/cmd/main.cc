// xgate-agent: loads a folder of manifests, watches it, and programs the data planes from
// each change (see docs/architecture.md, "The commands and their contract").
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "agent/admin/metrics.h"
#include "agent/admin/server.h"
#include "agent/cmd/appliers.h"
#include "agent/cmd/flags.h"
#include "agent/l7/proxy_stats_client.h"
#include "agent/standalone/interfaces.h"
#include "agent/standalone/pipeline.h"
#include "agent/standalone/watcher.h"
#include "spdlog/spdlog.h"

namespace {

constexpr std::chrono::milliseconds kDebounce{100};

// SIGTERM and SIGINT arrive on a file descriptor, so the watch loop can wait on both.
int BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace xgate;
  auto flags = agent::ParseAgentFlags(std::vector<std::string>(argv, argv + argc));
  if (!flags.ok()) {
    std::cerr << "xgate-agent: " << flags.status().message() << "\n" << agent::AgentUsage();
    return 2;
  }
  if (flags->help) {
    std::cout << agent::AgentUsage();
    return 0;
  }
  // Blocked before any thread starts, so every thread inherits the mask.
  int signal_fd = BlockStopSignals();
  if (signal_fd < 0) {
    spdlog::critical("signalfd: {}", std::strerror(errno));
    return 1;
  }

  std::filesystem::path dir = flags->manifests;
  auto watcher = standalone::DirectoryWatcher::Create(dir);
  if (!watcher.ok()) {
    spdlog::critical("--manifests {}: {}", dir.string(), std::string(watcher.status().message()));
    return 2;
  }
  auto node_addresses = standalone::InterfaceAddresses(flags->attach);
  if (!node_addresses.ok()) {
    spdlog::critical("--attach: {}", std::string(node_addresses.status().message()));
    return 2;
  }
  auto appliers = agent::BuildAppliers(*flags);
  if (!appliers.ok()) {
    spdlog::critical("{}", std::string(appliers.status().message()));
    return 1;
  }

  standalone::Pipeline pipeline(dir, *node_addresses, *std::move(appliers));
  spdlog::info(
      "xgate-agent watching {} (node addresses: {})", dir.string(),
      node_addresses->empty() ? "none" : fmt::format("{}", fmt::join(*node_addresses, ", ")));
  admin::AdminOptions admin_options;
  if (!flags->attach.empty()) admin_options.l4_pin_root = flags->pin_root;
  admin_options.proxy_stats_socket = l7::ProxyStatsSocketPath(agent::ProxySocketPath(*flags));
  auto admin_server = admin::AdminServer::Start(flags->admin_socket, pipeline, admin_options);
  if (!admin_server.ok()) {
    spdlog::critical("--admin-socket: {}", std::string(admin_server.status().message()));
    pipeline.Stop(flags->detach_on_exit);
    return 1;
  }
  std::unique_ptr<admin::MetricsServer> metrics;
  if (!flags->metrics_addr.empty()) {
    auto started = admin::MetricsServer::Start(
        flags->metrics_addr,
        [&pipeline, root = admin_options.l4_pin_root, proxy = admin_options.proxy_stats_socket] {
          return admin::RenderAgentMetrics(pipeline, root, proxy);
        });
    if (!started.ok()) {
      spdlog::critical("--metrics-addr: {}", std::string(started.status().message()));
      pipeline.Stop(flags->detach_on_exit);
      return 1;
    }
    metrics = *std::move(started);
  }
  pipeline.Reload().IgnoreError();  // logged; a later change retries

  while ((*watcher)->Wait(signal_fd, kDebounce) == standalone::DirectoryWatcher::Event::kChanged) {
    spdlog::info("{} changed; reloading", dir.string());
    pipeline.Reload().IgnoreError();
  }

  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof info) == sizeof info) {
    spdlog::info("signal {}: stopping", info.ssi_signo);
  }
  metrics.reset();
  admin_server->reset();
  pipeline.Stop(flags->detach_on_exit);
  close(signal_fd);
  spdlog::info("xgate-agent stopped");
  return 0;
}
