// xgate-proxy: the HTTP engine. Serves the L7Config streamed by the agent over its unix
// socket (or loaded from --config FILE), keeping the last one if the agent goes away. On
// SIGTERM it hands its listening sockets to the agent's listener store (the next proxy takes
// them) and drains: in-flight requests finish, keep-alive connections close at their next
// response, for at most --drain-timeout.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/fd_passing.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tools/version/command_line.h"
#include "userspace-proxy/cmd/limit_flags.h"
#include "userspace-proxy/cmd/privileges.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/config_stream.h"
#include "userspace-proxy/server/listener_handoff.h"
#include "userspace-proxy/server/server.h"
#include "userspace-proxy/server/stats_server.h"

namespace {

// "BASE[,MAX]" in milliseconds, 1 <= BASE <= MAX.
bool ParseBackoff(const std::string& text, xgate::proxy::EjectionOptions* out) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  int base = 0, max = 0;
  if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &base) || base < 1) return false;
  max = std::max(base, static_cast<int>(out->max.count()));
  if (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &max) || max < base)) return false;
  out->base = std::chrono::milliseconds(base);
  out->max = std::chrono::milliseconds(max);
  return true;
}

absl::StatusOr<xgate::api::L7Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  std::string content = text.str();
  xgate::api::L7Config config;
  size_t first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '{') {
    auto status = google::protobuf::util::JsonStringToMessage(content, &config);
    if (!status.ok()) {
      return absl::InvalidArgumentError(path + ": " + std::string(status.message()));
    }
    return config;
  }
  struct Collector : google::protobuf::io::ErrorCollector {
    std::string errors;
    void AddError(int line, int column, const std::string& message) override {
      errors += "line " + std::to_string(line + 1) + " column " + std::to_string(column + 1) +
                ": " + message + "\n";
    }
  } collector;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(content, &config)) {
    return absl::InvalidArgumentError(path + ": " + collector.errors);
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = "/run/xgate/proxy.sock";
  std::string config_file;
  std::string access_log;
  std::string stats_socket;
  std::string log_level = "info";
  std::string user;
  std::string steer_map;
  std::string listener_store;
  int drain_timeout_s = 15;
  xgate::proxy::ServerOptions options;
  options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  CLI::App app{"xgate-proxy: the HTTP engine. Serves the L7 config streamed by xgate-agent.",
               "xgate-proxy"};
  app.add_option("--socket", socket_path, "the agent's config stream socket")
      ->capture_default_str();
  app.add_option("--stats-socket", stats_socket,
                 "where the proxy serves its counters to the agent (gRPC; default "
                 "proxy-stats.sock beside --socket; none with --config unless given)");
  app.add_option("--config", config_file,
                 "load an L7Config from a text-format (.txtpb/.pbtxt) or JSON file instead of "
                 "connecting to the agent");
  app.add_option("--workers", options.workers, "worker threads (default: number of CPUs)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--access-log", access_log,
                 "JSON access log (default stdout; reopened on SIGHUP; off: none)");
  app.add_option("--log-level", log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--eject-backoff",
         [&options](const std::string& text) {
           if (!ParseBackoff(text, &options.upstream.ejection)) {
             throw CLI::ValidationError("--eject-backoff",
                                        "want MS or MS,MAX_MS (MAX >= MS >= 1): " + text);
           }
         },
         "how long a failing upstream endpoint is ejected the first time, doubling with each "
         "ejection up to MAX (default 5000,60000)")
      ->type_name("MS[,MAX]");
  app.add_option("--user", user,
                 "run as this user (default: the starting one); either way only "
                 "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN and CAP_BPF are kept");
  app.add_option("--steer-map", steer_map,
                 "the pinned steer sockmap, opened before --user takes effect (the agent passes "
                 "it when it steers and runs the proxy as another user)")
      ->type_name("PATH");
  app.add_option("--listener-store", listener_store,
                 "the agent's listener store: listening sockets are taken from it at start and "
                 "put in it on SIGTERM, for a restart that refuses no connection (default "
                 "proxy-listeners.sock beside --socket; none with --config unless given)");
  app.add_option("--drain-timeout", drain_timeout_s,
                 "on SIGTERM, seconds the open connections get to finish before the exit")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  xgate::proxy::AddLimitFlags(app, options);
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  int workers = options.workers;
  spdlog::set_level(spdlog::level::from_str(log_level));
  // Logs on stderr; stdout carries the access log.
  spdlog::default_logger()->sinks().clear();
  spdlog::default_logger()->sinks().push_back(
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (auto status = xgate::proxy::AccessLog::Open(access_log); !status.ok()) {
    spdlog::critical("{}", status.ToString());
    return 1;
  }
  if (!steer_map.empty()) {
    int fd = bpf_obj_get(steer_map.c_str());
    if (fd < 0) {
      spdlog::critical("--steer-map {}: {}", steer_map, std::strerror(errno));
      return 1;
    }
    xgate::proxy::SetPreopenedSteerMap(steer_map, fd);
  }
  if (auto status = xgate::proxy::DropPrivileges(user); !status.ok()) {
    spdlog::critical("{}", status.ToString());
    return 1;
  }

  // Signals are taken synchronously by this thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  xgate::proxy::Server server(options);
  std::unique_ptr<xgate::proxy::ConfigStreamClient> stream;
  if (config_file.empty()) {
    stream = std::make_unique<xgate::proxy::ConfigStreamClient>(
        socket_path, [&server](xgate::api::L7Config config) {
          return server.Apply(std::move(config));  // logged; the last good config stays
        });
    server.SetListenReporter(
        [raw = stream.get()](const xgate::api::ListenReport& report) { raw->Report(report); });
  }
  server.Start();

  if (!config_file.empty()) {
    auto config = LoadConfigFile(config_file);
    if (!config.ok()) {
      spdlog::critical("{}", config.status().ToString());
      return 1;
    }
    if (auto status = server.Apply(*config); !status.ok()) {
      spdlog::critical("{}: {}", config_file, status.ToString());
      return 1;
    }
  } else {
    if (listener_store.empty()) listener_store = xgate::fdpass::ListenerStorePath(socket_path);
    // Before the first config: the sockets it names are then the predecessor's.
    auto inherited = xgate::proxy::TakeListeners(listener_store);
    if (!inherited.ok()) {
      spdlog::warn("listener store: {}; opening every listener anew",
                   inherited.status().ToString());
    } else if (!inherited->empty()) {
      spdlog::info("took {} listening groups from the previous proxy", inherited->size());
      server.InheritListeners(*std::move(inherited));
    }
    stream->Start();
  }
  if (stats_socket.empty() && config_file.empty()) {
    stats_socket = xgate::proxy::DefaultStatsSocket(socket_path);
  }
  std::unique_ptr<xgate::proxy::StatsServer> stats_server;
  if (!stats_socket.empty()) {
    auto started =
        xgate::proxy::StatsServer::Start(stats_socket, [&server] { return server.Stats(); });
    if (started.ok()) {
      stats_server = *std::move(started);
    } else {
      // Serving traffic matters more than being measured.
      spdlog::error("--stats-socket: {}", started.status().ToString());
    }
  }
  spdlog::info("xgate-proxy running with {} workers ({})", workers,
               config_file.empty() ? "config stream " + socket_path : "config " + config_file);

  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      if (auto status = xgate::proxy::AccessLog::Reopen(); !status.ok()) {
        spdlog::error("{}", status.ToString());
      }
      continue;
    }
    if (signal == SIGPIPE) continue;
    break;
  }
  spdlog::info("xgate-proxy stopping: draining for at most {} s", drain_timeout_s);
  stats_server.reset();        // the next proxy serves the counters from now on
  if (stream) stream->Stop();  // no config may open listeners again
  std::vector<xgate::proxy::HandedGroup> listeners = server.ReleaseListeners();
  if (!listener_store.empty() && !listeners.empty()) {
    if (auto put = xgate::proxy::PutListeners(listener_store, listeners); put.ok()) {
      spdlog::info("{} listening groups handed to the agent's listener store", listeners.size());
    } else {
      spdlog::warn("listener store: {}; closing the listeners", put.ToString());
    }
  }
  listeners.clear();  // our copies: the sockets live on in the store or the next proxy
  server.Drain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(drain_timeout_s);
  while (server.OpenConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  spdlog::info("xgate-proxy drained ({} connections left)", server.OpenConnections());
  server.Stop();
  return 0;
}
