#include "agent/l7/l7_applier.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/l7/proxy_stats_client.h"
#include "api/fd_passing.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace xgate::l7 {

namespace {

// kill(pid, 0) also succeeds for a zombie; a zombie has stopped serving.
bool ProcessAlive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

}  // namespace

std::string DefaultProxyBinary() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "xgate-proxy";
  return (self.parent_path() / "xgate-proxy").string();
}

absl::StatusOr<std::unique_ptr<L7Applier>> L7Applier::Create(L7ApplierOptions options) {
  if (options.proxy_binary.empty()) options.proxy_binary = DefaultProxyBinary();
  if (options.stats_socket_path.empty()) {
    options.stats_socket_path = ProxyStatsSocketPath(options.socket_path);
  }
  auto user = PrepareProxyUser(options.proxy_user, options.socket_path);
  if (!user.ok()) return user.status();
  std::unique_ptr<L7Applier> applier(new L7Applier(std::move(options)));
  applier->user_ = *std::move(user);
  auto server =
      ConfigServer::Start(applier->options_.socket_path, applier->options_.listen_reports);
  if (!server.ok()) return server.status();
  applier->server_ = *std::move(server);
  if (applier->user_) {
    absl::Status s = HandOverSocket(applier->options_.socket_path, *applier->user_);
    if (!s.ok()) return s;
  }
  if (applier->options_.start_proxy) {
    auto store = ListenerStore::Start(fdpass::ListenerStorePath(applier->options_.socket_path),
                                      [raw = applier.get()](pid_t pid) { raw->HandedOff(pid); });
    // Without it a proxy restart is not graceful, but the proxy still serves.
    if (store.ok() && applier->user_) {
      absl::Status s =
          HandOverSocket(fdpass::ListenerStorePath(applier->options_.socket_path), *applier->user_);
      if (!s.ok()) return s;
    }
    if (store.ok()) {
      applier->store_ = *std::move(store);
    } else {
      spdlog::error("listener store: {}", store.status().ToString());
    }
    applier->AdoptRunningProxy();
    applier->supervisor_ = std::thread([raw = applier.get()] { raw->Supervise(); });
  }
  return applier;
}

std::string L7Applier::PidFile() const { return options_.socket_path + ".proxy-pid"; }

void L7Applier::AdoptRunningProxy() {
  // A proxy left serving by the previous agent (stopped without --detach-on-exit) is kept:
  // it reconnects to the new stream by itself, and a second one would double the sockets.
  std::ifstream in(PidFile());
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0 || !ProcessAlive(pid)) return;
  std::error_code error;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
  if (error || exe.filename() != std::filesystem::path(options_.proxy_binary).filename()) return;
  pid_ = pid;
  adopted_ = true;
  spdlog::info("adopted running xgate-proxy (pid {})", pid);
}

L7Applier::~L7Applier() { Stop(false); }

absl::Status L7Applier::Apply(const compiler::Snapshot& snapshot) {
  return Publish(std::make_shared<const api::L7Config>(snapshot.l7));
}

absl::Status L7Applier::ApplyShared(const std::shared_ptr<const compiler::Snapshot>& snapshot) {
  // The stream sends the snapshot's own L7Config, kept alive with it: no copy of it.
  return Publish(std::shared_ptr<const api::L7Config>(snapshot, &snapshot->l7));
}

absl::Status L7Applier::Publish(std::shared_ptr<const api::L7Config> config) {
  bool want_proxy = config->ports_size() > 0;
  server_->Publish(std::move(config));
  {
    std::lock_guard lock(mutex_);
    want_proxy_ = want_proxy;
  }
  wake_.notify_all();
  return absl::OkStatus();
}

void L7Applier::StartProxyAhead() {
  {
    std::lock_guard lock(mutex_);
    if (!options_.start_proxy) return;
    want_proxy_ = true;
  }
  wake_.notify_all();
}

void L7Applier::Stop(bool detach) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (store_) store_->Refuse();
  wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  {
    // Draining proxies finish by themselves (bounded by their --drain-timeout); detaching
    // removes everything at once.
    std::lock_guard lock(mutex_);
    for (const Draining& old : draining_) {
      if (!detach) continue;
      kill(old.pid, SIGKILL);
      if (!old.adopted) waitpid(old.pid, nullptr, 0);
    }
  }
  pid_t pid = pid_;
  if (pid > 0 && detach) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {  // up to 5 s, then force
      bool gone = adopted_ ? !ProcessAlive(pid) : waitpid(pid, nullptr, WNOHANG) == pid;
      if (gone) {
        pid = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      if (!adopted_) waitpid(pid, nullptr, 0);
    }
    pid_ = 0;
    unlink(PidFile().c_str());
  } else if (pid > 0) {
    spdlog::info("leaving xgate-proxy (pid {}) serving its last config", pid);
  }
  server_->Shutdown();
}

std::vector<std::string> L7Applier::ProxyArgv() const {
  std::vector<std::string> args = {options_.proxy_binary, "--socket", options_.socket_path,
                                   "--stats-socket", options_.stats_socket_path};
  args.insert(args.end(), options_.proxy_args.begin(), options_.proxy_args.end());
  for (auto& arg : ProxyUserArgs(user_ ? &*user_ : nullptr)) args.push_back(std::move(arg));
  return args;
}

pid_t L7Applier::Spawn() {
  std::vector<std::string> args = ProxyArgv();
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The proxy must not inherit the agent's blocked signals.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, options_.proxy_binary.c_str(), nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    spdlog::error("cannot start {}: {}", options_.proxy_binary, strerror(rc));
    return 0;
  }
  ++starts_;
  spdlog::info("started xgate-proxy (pid {})", pid);
  std::ofstream(PidFile()) << pid << "\n";
  return pid;
}

int L7Applier::draining_proxies() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(draining_.size());
}

void L7Applier::HandedOff(pid_t pid) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || pid <= 0 || pid != pid_) return;  // not ours: its listeners wait in the store
    draining_.push_back({pid, adopted_});
    pid_ = 0;
    adopted_ = false;
    next_start_ = std::chrono::steady_clock::now();
  }
  spdlog::info("xgate-proxy (pid {}) handed over its listeners and drains", pid);
  wake_.notify_all();
}

void L7Applier::ReapDraining() {
  std::erase_if(draining_, [](const Draining& old) {
    bool gone = old.adopted ? !ProcessAlive(old.pid) : waitpid(old.pid, nullptr, WNOHANG) != 0;
    if (gone) spdlog::info("draining xgate-proxy (pid {}) exited", old.pid);
    return gone;
  });
}

void L7Applier::Supervise() {
  using namespace std::chrono_literals;
  auto backoff = 500ms;
  std::chrono::steady_clock::time_point started{};
  std::unique_lock lock(mutex_);
  next_start_ = std::chrono::steady_clock::now();
  while (!stopping_) {
    ReapDraining();
    pid_t pid = pid_;
    if (pid > 0) {
      int status = 0;
      pid_t done = adopted_ ? (ProcessAlive(pid) ? 0 : pid) : waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno == ECHILD)) {
        adopted_ = false;
        pid_ = 0;
        spdlog::warn("xgate-proxy (pid {}) exited ({} {}); restarting in {} ms", pid,
                     WIFSIGNALED(status) ? "signal" : "status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), backoff.count());
        // A proxy that ran for a while gets a fresh backoff; a crash loop backs off.
        if (std::chrono::steady_clock::now() - started > 30s) backoff = 500ms;
        next_start_ = std::chrono::steady_clock::now() + backoff;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 30s);
      }
    }
    if (pid_ == 0 && want_proxy_ && std::chrono::steady_clock::now() >= next_start_) {
      pid_ = Spawn();
      started = std::chrono::steady_clock::now();
      if (pid_ == 0) next_start_ = started + backoff;
    }
    wake_.wait_for(lock, 100ms);
  }
}

}  // namespace xgate::l7
