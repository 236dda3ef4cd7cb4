// xgate-agent: loads a folder of manifests, watches it, and programs the data planes from
// each change (see docs/architecture.md, "The commands and their contract").
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "agent/admin/metrics.h"
#include "agent/admin/server.h"
#include "agent/cmd/appliers.h"
#include "agent/cmd/flags.h"
#include "agent/l7/listen_reports.h"
#include "agent/l7/proxy_stats_client.h"
#include "agent/standalone/interfaces.h"
#include "agent/standalone/pipeline.h"
#include "agent/standalone/watcher.h"
#include "maps/pins.h"
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
  auto listen_reports = std::make_shared<l7::ListenReports>();
  auto appliers = agent::BuildAppliers(*flags, listen_reports);
  if (!appliers.ok()) {
    spdlog::critical("{}", std::string(appliers.status().message()));
    return 1;
  }

  standalone::Pipeline pipeline(dir, *node_addresses, *std::move(appliers));
  standalone::PipelineInputs inputs;
  inputs.unavailable_ports = [listen_reports] { return listen_reports->Unavailable(); };
  if (!flags->attach.empty()) {
    inputs.compile_options = [map = maps::PinPath(flags->pin_root, maps::kSteerSocks)] {
      compiler::CompileOptions options;
      options.steer_socket_map = map;
      options.node_owned = standalone::NodeOwnedAddresses();
      return options;
    };
  }
  pipeline.SetInputs(std::move(inputs));
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
        flags->metrics_addr, [&pipeline, root = admin_options.l4_pin_root,
                              proxy = admin_options.proxy_stats_socket, listen = listen_reports] {
          return admin::RenderAgentMetrics(pipeline, root, proxy, listen.get());
        });
    if (!started.ok()) {
      spdlog::critical("--metrics-addr: {}", std::string(started.status().message()));
      pipeline.Stop(flags->detach_on_exit);
      return 1;
    }
    metrics = *std::move(started);
  }
  // A port the proxy could not open, or opened at last, changes the listeners' status.
  std::atomic<bool> stopping{false};
  std::thread status_refresh([&] {
    uint64_t seen = 0;
    while (!stopping) {
      uint64_t now = listen_reports->WaitChange(seen, std::chrono::seconds(1));
      if (stopping || now == seen) continue;
      seen = now;
      spdlog::info("the proxy's listen results changed; reloading");
      pipeline.Reload().IgnoreError();
    }
  });
  pipeline.Reload().IgnoreError();  // logged; a later change retries

  while ((*watcher)->Wait(signal_fd, kDebounce) == standalone::DirectoryWatcher::Event::kChanged) {
    spdlog::info("{} changed; reloading", dir.string());
    pipeline.Reload().IgnoreError();
  }

  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof info) == sizeof info) {
    spdlog::info("signal {}: stopping", info.ssi_signo);
  }
  stopping = true;
  listen_reports->Wake();
  status_refresh.join();
  metrics.reset();
  admin_server->reset();
  pipeline.Stop(flags->detach_on_exit);
  close(signal_fd);
  spdlog::info("xgate-agent stopped");
  return 0;
}
