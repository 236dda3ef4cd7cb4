// xgate-cni-install: puts xgate-cni into a node's CNI setup (the binary into the bin folder, the
// plugin last in the active network configuration list), keeps it there, or takes it out.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>

#include "CLI/CLI.hpp"
#include "cni-hooks/install/watch.h"
#include "spdlog/spdlog.h"
#include "tools/version/command_line.h"

namespace {

// SIGTERM and SIGINT as a readable fd, so the watch loop ends cleanly.
int StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

std::string BesideThisBinary(const char* name) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(name) : (self.parent_path() / name).string();
}

}  // namespace

int main(int argc, char** argv) {
  namespace install = xgate::cni_install;
  install::Options options;
  options.plugin_binary = BesideThisBinary(install::kPluginType);
  std::string state_dir, admin_socket;
  bool watch = false, uninstall = false, uninstall_on_exit = false;
  double wait_seconds = 0;

  CLI::App app{
      "Installs xgate-cni on a node: copies the plugin into the CNI bin folder and appends it as\n"
      "the last plugin of the network configuration the container runtime uses (the first\n"
      "*.conf/*.conflist/*.json of the conf folder in name order). Idempotent.",
      "xgate-cni-install"};
  app.add_option("--cni-conf-dir", options.conf_dir, "the node's CNI configuration folder")
      ->capture_default_str();
  app.add_option("--cni-bin-dir", options.bin_dir, "the node's CNI plugin folder")
      ->capture_default_str();
  app.add_option("--plugin", options.plugin_binary,
                 "the xgate-cni binary to copy (\"\" copies nothing)")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "xgate-cni's stateDir in the list entry (default: the plugin's, /run/xgate/cni)");
  app.add_option("--admin-socket", admin_socket,
                 "xgate-cni's adminSocket in the list entry (default: /run/xgate/admin.sock)");
  app.add_option("--wait", wait_seconds,
                 "seconds to wait for the node's network configuration to appear")
      ->check(CLI::NonNegativeNumber);
  auto* watch_flag =
      app.add_flag("--watch", watch,
                   "keep running: install again whenever the conf folder changes, until SIGTERM");
  app.add_flag("--uninstall-on-exit", uninstall_on_exit,
               "with --watch: take xgate-cni out when stopped")
      ->needs(watch_flag);
  app.add_flag("--uninstall", uninstall,
               "take xgate-cni out of every list and remove the binary, then exit")
      ->excludes(watch_flag);
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;

  if (!state_dir.empty()) options.entry["stateDir"] = state_dir;
  if (!admin_socket.empty()) options.entry["adminSocket"] = admin_socket;

  if (uninstall) {
    absl::Status done = install::Uninstall(options);
    if (!done.ok()) spdlog::error("{}", std::string(done.message()));
    return done.ok() ? 0 : 1;
  }
  install::WatchOptions how;
  how.once = !watch;
  how.wait = std::chrono::milliseconds(static_cast<int64_t>(wait_seconds * 1000));
  how.stop_fd = StopSignals();
  absl::Status done = install::Watch(options, how);
  if (watch && uninstall_on_exit) done = install::Uninstall(options);
  if (!done.ok()) spdlog::error("{}", std::string(done.message()));
  return done.ok() ? 0 : 1;
}
