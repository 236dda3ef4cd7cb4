// xgate-agent: reads its objects from a folder of manifests (standalone) or from the
// Kubernetes API server, and programs the data planes from each change (see
// docs/architecture.md, "The commands and their contract").
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "agent/admin/metrics.h"
#include "agent/admin/server.h"
#include "agent/cmd/appliers.h"
#include "agent/cmd/flags.h"
#include "agent/cmd/malloc_conf.h"
#include "agent/kube/api.h"
#include "agent/kube/leader_election.h"
#include "agent/kube/program_first.h"
#include "agent/kube/status_publisher.h"
#include "agent/kube/status_writer.h"
#include "agent/l4/l4_applier.h"
#include "agent/l7/l7_applier.h"
#include "agent/l7/listen_reports.h"
#include "agent/l7/proxy_stats_client.h"
#include "agent/pipeline/interfaces.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pods/locality_check.h"
#include "agent/pods/pod_attachments.h"
#include "agent/pods/pod_datapath.h"
#include "agent/pods/pod_sync_loop.h"
#include "agent/sources/folder_source.h"
#include "agent/sources/folder_watcher.h"
#include "agent/sources/kube/client.h"
#include "agent/sources/kube/kube_source.h"
#include "maps/pins.h"
#include "spdlog/spdlog.h"
#include "tools/version/command_line.h"

namespace {

using namespace xgate;

// Changes (to the folder or from the API server) within this quiet time are one reconcile, at
// most kMostDelay after the first of them.
constexpr std::chrono::milliseconds kDebounce{3};
constexpr std::chrono::milliseconds kMostDelay{100};
// How long the status writer holds back, before an object, while a change is being programmed.
constexpr std::chrono::milliseconds kStatusHoldsBack{200};
// The pods' safety-net resync (interfaces that vanish are noticed through rtnetlink at once).
constexpr std::chrono::seconds kPodResync{30};

// SIGTERM and SIGINT arrive on a file descriptor, so the watch loop can wait on both.
int BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

absl::StatusOr<kube::Config> KubeConfig(const agent::AgentFlags& flags) {
  if (flags.mode == agent::SourceMode::kKubeconfig) return kube::LoadKubeconfig(flags.kubeconfig);
  return kube::InClusterConfig();
}

}  // namespace

int main(int argc, char** argv) {
  agent::AgentFlags parsed;
  CLI::App app("", "xgate-agent");
  agent::AddAgentFlags(app, parsed);
  if (auto exit_code = cli::Parse(app, argc, argv)) return *exit_code;
  if (absl::Status s = agent::ResolveAgentFlags(parsed); !s.ok()) {
    std::cerr << "xgate-agent: " << s.message() << "\nRun 'xgate-agent --help' for the flags.\n";
    return cli::kUsageError;
  }
  const agent::AgentFlags* flags = &parsed;
  // Blocked before any thread starts, so every thread inherits the mask.
  int signal_fd = BlockStopSignals();
  if (signal_fd < 0) {
    spdlog::critical("signalfd: {}", std::strerror(errno));
    return 1;
  }
  const bool standalone = flags->mode == agent::SourceMode::kManifests;

  // The sources: a watched folder, or the API server.
  sources::ObjectStore store;
  std::unique_ptr<sources::FolderSource> folder;
  std::unique_ptr<sources::DirectoryWatcher> watcher;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<kube::KubeSource> kube_source;
  std::jthread prewarm;
  if (standalone) {
    folder = std::make_unique<sources::FolderSource>(flags->manifests, store);
    auto created = sources::DirectoryWatcher::Create(folder->dir());
    if (!created.ok()) {
      spdlog::critical("--manifests {}: {}", flags->manifests,
                       std::string(created.status().message()));
      return 2;
    }
    watcher = *std::move(created);
    // Read and decoded while the fast path loads (at 10,000 routes each takes a few hundred
    // ms); the first reload finds every document decoded.
    prewarm = std::jthread([&] {
      if (folder->Sync().ok()) store.Predecode();
    });
  } else {
    auto config = KubeConfig(*flags);
    if (!config.ok()) {
      spdlog::critical("{}", std::string(config.status().message()));
      return 2;
    }
    auto created = kube::Client::Create(*config);
    if (!created.ok()) {
      spdlog::critical("{}", std::string(created.status().message()));
      return 2;
    }
    client = *std::move(created);
    kube_source = std::make_unique<kube::KubeSource>(*client, store, kube::KubeSource::Options{});
    // Listed while the data planes are set up (attaching the programs takes about as long as
    // listing 10,000 routes): nothing is applied before the main loop below.
    kube_source->Start();
  }
  // Kubernetes mode: the holder of the Lease (one agent of the DaemonSet) writes status.
  std::unique_ptr<kube::ClientApi> status_api;
  std::unique_ptr<kube::LeaderElector> elector;
  std::unique_ptr<kube::ProgramFirst> program_first;
  std::unique_ptr<kube::StatusWriter> status_writer;
  std::unique_ptr<kube::StatusPublisher> publisher;
  if (client) {
    status_api = std::make_unique<kube::ClientApi>(*client);
    kube::LeaseOptions lease;
    lease.ns = flags->ns;
    lease.identity = flags->node_name;
    elector = std::make_unique<kube::LeaderElector>(*status_api, lease);
    status_writer =
        std::make_unique<kube::StatusWriter>(*status_api, std::map<model::Kind, kube::Resource>{});
    program_first = std::make_unique<kube::ProgramFirst>([&store] { return store.version(); },
                                                         kStatusHoldsBack);
    status_writer->SetPacer([gate = program_first.get()] { gate->Wait(); });
    publisher = std::make_unique<kube::StatusPublisher>(*status_writer, *elector);
    if (absl::Status s = elector->Start(); !s.ok()) {
      spdlog::critical("status Lease: {}", s.ToString());
      return 2;
    }
  }

  auto node_addresses = pipeline::InterfaceAddresses(flags->attach);
  if (!node_addresses.ok()) {
    spdlog::critical("--attach: {}", std::string(node_addresses.status().message()));
    return 2;
  }
  auto listen_reports = std::make_shared<l7::ListenReports>();
  // The data planes are set up (the fast path's programs loaded and attached: about a second)
  // while the pipeline prepares the first state.
  auto appliers_made =
      std::async(std::launch::async, [&] { return agent::BuildAppliers(*flags, listen_reports); });
  pipeline::PipelineOptions pipeline_options;
  pipeline_options.carry_generations = standalone;
  pipeline::Pipeline pipeline(store, *node_addresses, {}, pipeline_options);
  // The local pods' addresses as last programmed (point 4 of issue #14: which endpoints run
  // here), for the compiler.
  std::mutex local_pods_mu;
  std::set<std::string> local_pods;
  pipeline::PipelineInputs inputs;
  inputs.unavailable_ports = [listen_reports] { return listen_reports->Unavailable(); };
  inputs.max_gateway_listeners = flags->max_gateway_listeners;
  if (!flags->attach.empty()) {
    inputs.compile_options = [&, map = maps::PinPath(flags->pin_root, maps::kSteerSocks)] {
      compiler::CompileOptions options;
      options.steer_socket_map = map;
      options.node_owned = pipeline::NodeOwnedAddresses();
      options.node_name = flags->node_name;
      // xgate-cni is in use here once its state folder exists (it makes it at the first ADD).
      std::error_code ec;
      if (std::filesystem::is_directory(flags->cni_state_dir, ec)) {
        std::lock_guard lock(local_pods_mu);
        options.local_pods = local_pods;
      }
      return options;
    };
  }
  pipeline.SetInputs(std::move(inputs));
  bool expect_l7 = false;  // the first config is expected to have L7 ports
  if (standalone) {
    prewarm.join();
    auto prepared = pipeline.Prepare();
    expect_l7 = prepared != nullptr && prepared->l7.ports_size() > 0;
  }
  auto appliers = appliers_made.get();
  if (!appliers.ok()) {
    spdlog::critical("{}", std::string(appliers.status().message()));
    return 1;
  }
  // From the API server: Gateways listed (their list comes within the first few ms).
  if (kube_source) expect_l7 = kube_source->ListedCount("Gateway") > 0;

  // With the fast path, the node's pods get it on their interfaces too.
  std::unique_ptr<pods::PodDatapath> pod_datapath;
  for (const auto& applier : *appliers) {
    if (applier->Name() == "l7" && expect_l7) {
      static_cast<l7::L7Applier&>(*applier).StartProxyAhead();
    }
    if (applier->Name() != "l4") continue;
    l4::Datapath& dp = static_cast<l4::L4Applier&>(*applier).datapath();
    pods::PodDatapathOptions pod_options;
    pod_options.pin_root = flags->pin_root;
    pod_options.tc_ingress_prog_fd = dp.TcIngressProgFd();
    pod_options.local_pods_map_fd = dp.MapFd("xg_local_pods");
    auto created = pods::PodDatapath::Create(pod_options);
    if (!created.ok()) {
      spdlog::critical("local pods: {}", created.status().ToString());
      return 1;
    }
    pod_datapath = *std::move(created);
  }

  pipeline.SetAppliers(*std::move(appliers));
  // After each reload from the API server (the main loop's, and the status refresh's when a
  // listen result changed): the holder writes the new status.
  std::mutex publish_mu;
  // The generation last published: a State held here would outlive the next reload.
  uint64_t last_published = 0;
  auto publish = [&] {
    if (!publisher) return;
    std::lock_guard lock(publish_mu);
    auto state = pipeline.Current();
    if (!state || state->generation == last_published) return;
    status_writer->SetResources(kube::StatusResources(kube_source->Kinds()));
    publisher->Publish(std::shared_ptr<const model::Store>(state, &state->loaded.store),
                       std::shared_ptr<const binder::Statuses>(state, &state->bound.statuses));
    last_published = state->generation;
  };
  spdlog::info(
      "xgate-agent on node {} reading {} (node addresses: {})", flags->node_name,
      standalone ? flags->manifests : client->config().origin + " at " + client->config().server,
      node_addresses->empty() ? "none" : fmt::format("{}", fmt::join(*node_addresses, ", ")));
  admin::AdminOptions admin_options;
  if (!flags->attach.empty()) admin_options.l4_pin_root = flags->pin_root;
  admin_options.proxy_stats_socket = l7::ProxyStatsSocketPath(agent::ProxySocketPath(*flags));
  admin_options.folder = folder.get();
  pods::PodAttachments pod_attachments(flags->cni_state_dir);
  admin_options.pods = &pod_attachments;
  admin_options.pod_datapath = pod_datapath.get();
  // After each reload and each change of the records: where the EndpointSlices and the
  // records disagree, once xgate-cni is in use here.
  pods::LocalityCheck locality;
  admin_options.locality = &locality;
  auto check_locality = [&] {
    std::error_code ec;
    auto state = pipeline.Current();
    if (!state || !std::filesystem::is_directory(flags->cni_state_dir, ec)) return;
    locality.Update(pods::FindLocalityMismatches(state->loaded.store, flags->node_name,
                                                 pod_attachments.List(),
                                                 pipeline::NodeOwnedAddresses()));
  };
  auto admin_server = admin::AdminServer::Start(flags->admin_socket, pipeline, admin_options);
  if (!admin_server.ok()) {
    spdlog::critical("--admin-socket: {}", std::string(admin_server.status().message()));
    pipeline.Stop(flags->detach_on_exit);
    return 1;
  }
  // After the socket listens: a pod added from now on is reported, one added before is read.
  for (const auto& e : pod_attachments.LoadStateDir()) spdlog::warn("--cni-state-dir: {}", e);
  std::unique_ptr<admin::MetricsServer> metrics;
  if (!flags->metrics_addr.empty()) {
    auto render = [&pipeline, &kube_source, &elector, &status_writer,
                   root = admin_options.l4_pin_root, proxy = admin_options.proxy_stats_socket,
                   listen = listen_reports, &locality] {
      std::string out = admin::RenderAgentMetrics(pipeline, root, proxy, listen.get());
      out += admin::RenderLocalityMetrics(locality.Current());
      if (kube_source) out += admin::RenderInformerMetrics(kube_source->Kinds());
      if (elector) {
        auto c = status_writer->counters();
        out += admin::RenderLeaderStatusMetrics(
            {elector->IsLeader(), elector->transitions(), c.ok, c.conflict, c.error,
             c.skipped_unchanged, c.read_listed, c.read_get, c.list_pages, c.list_errors});
      }
      return out;
    };
    // Ready once the first snapshot is programmed (which, from the API server, waits for
    // every informer to sync).
    auto ready = [&pipeline] { return pipeline.Current() != nullptr; };
    auto started = admin::MetricsServer::Start(flags->metrics_addr, render, ready);
    if (!started.ok()) {
      spdlog::critical("--metrics-addr: {}", std::string(started.status().message()));
      pipeline.Stop(flags->detach_on_exit);
      return 1;
    }
    metrics = *std::move(started);
  }
  // The pods' interfaces follow the attachments: at each change, at once when an interface
  // vanishes without a DEL, and at each resync. The first sync comes before the first reload,
  // so that one already knows the local pods.
  auto sync_pods = [&] {
    std::set<std::string> now = pod_datapath->Sync(pod_attachments.List());
    std::lock_guard lock(local_pods_mu);
    bool changed = now != local_pods;
    local_pods = std::move(now);
    return changed;
  };
  std::unique_ptr<pods::PodSyncLoop> pod_sync;
  if (pod_datapath) {
    sync_pods();
    auto started = pods::PodSyncLoop::Start(
        pod_attachments,
        [&] {
          // Which endpoints are local (and which lost their pod) changed: compile again,
          // once a first state is applied (never an empty store's).
          if (sync_pods() && pipeline.Current() != nullptr) {
            spdlog::info("local pods changed; reloading");
            pipeline.Reload().IgnoreError();
            publish();
          }
          check_locality();
        },
        kPodResync);
    if (!started.ok()) {
      spdlog::critical("local pods: {}", started.status().ToString());
      pipeline.Stop(flags->detach_on_exit);
      return 1;
    }
    pod_sync = *std::move(started);
  }

  // A port the proxy could not open, or opened at last, changes the listeners' status.
  std::atomic<bool> stopping{false};
  std::thread status_refresh([&] {
    uint64_t seen = 0;
    while (!stopping) {
      uint64_t now = listen_reports->WaitChange(seen, std::chrono::seconds(1));
      if (stopping || now == seen) continue;
      seen = now;
      if (kube_source && !kube_source->Synced()) continue;  // no half state before the sync
      spdlog::info("the proxy's listen results changed; reloading");
      pipeline.Reload().IgnoreError();
      publish();
      check_locality();
    }
  });

  if (standalone) {
    folder->Sync().IgnoreError();     // an unreadable folder: the reload says why
    pipeline.Reload().IgnoreError();  // logged; a later change retries
    agent::EndColdStartHugePages();
    agent::ReleaseColdStartMemory();
    check_locality();
    while (watcher->Wait(signal_fd, kDebounce, kMostDelay) ==
           sources::DirectoryWatcher::Event::kChanged) {
      spdlog::info("{} changed; reloading", flags->manifests);
      folder->Sync().IgnoreError();
      pipeline.Reload().IgnoreError();
      check_locality();
    }
  } else {
    // Nothing is applied before every informer has synced; then each burst of changes is
    // one reconcile. While the API server is away nothing changes: the last state serves.
    while (sources::WaitForChanges(store, signal_fd, kDebounce, kMostDelay) ==
           sources::WaitResult::kChanged) {
      if (!kube_source->Synced()) continue;
      const uint64_t version = store.version();
      spdlog::info("API objects changed; reloading");
      pipeline.Reload().IgnoreError();
      agent::EndColdStartHugePages();
      if (pipeline.Current() != nullptr) agent::ReleaseColdStartMemory();
      agent::LogHeapStats("after a reload");
      publish();
      if (program_first) program_first->Programmed(version);
      check_locality();
    }
  }

  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof info) == sizeof info) {
    spdlog::info("signal {}: stopping", info.ssi_signo);
  }
  stopping = true;
  listen_reports->Wake();
  status_refresh.join();
  pod_sync.reset();
  if (pod_datapath && flags->detach_on_exit) pod_datapath->DetachAll();
  if (publisher) publisher->Stop();
  if (elector) elector->Stop(/*release=*/true);  // the next agent takes over in seconds
  if (kube_source) kube_source->Stop();
  metrics.reset();
  admin_server->reset();
  pipeline.Stop(flags->detach_on_exit);
  close(signal_fd);
  spdlog::info("xgate-agent stopped");
  return 0;
}
