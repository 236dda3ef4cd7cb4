#include "tests/cni/cni_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace xgate::cni_test {
namespace {

std::string Join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(1, sep)) + p;
  return out;
}

// Writes all of `in` to fd `to`, then reads fds `out` and `err` to their end, bounded.
bool Pump(int to, const std::string& in, int out_fd, int err_fd, PluginRun& run) {
  bool ok = write(to, in.data(), in.size()) == static_cast<ssize_t>(in.size());
  close(to);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, n);
      } else {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  return ok;
}

}  // namespace

PluginRun ExecPlugin(const std::string& path, const std::string& netns,
                     const std::map<std::string, std::string>& env, const std::string& stdin_text) {
  PluginRun run;
  // Prepared before fork: the child only makes system calls.
  std::vector<std::string> env_storage = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string argv0 = path;
  char* argv[] = {argv0.data(), nullptr};
  int ns_fd = -1;
  if (!netns.empty() && (ns_fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    return run;
  }
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return run;
  }
  pid_t pid = fork();
  if (pid == 0) {
    if (ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) != 0) _exit(125);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  if (ns_fd >= 0) close(ns_fd);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  bool pumped = pid > 0 && Pump(in[1], stdin_text, out[0], err[0], run);
  if (pid <= 0) close(in[1]);
  close(out[0]);
  close(err[0]);
  if (pid <= 0) return run;
  if (!pumped) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (pumped && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

CniRuntime::CniRuntime(Json conflist, std::vector<std::string> cni_path, std::string node_netns)
    : conflist_(std::move(conflist)),
      cni_path_(std::move(cni_path)),
      node_netns_(std::move(node_netns)) {}

std::string CniRuntime::PluginPath(const std::string& type) const {
  for (const auto& dir : cni_path_) {
    std::filesystem::path p = std::filesystem::path(dir) / type;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

std::map<std::string, std::string> CniRuntime::Env(const std::string& command,
                                                   const Attachment* a) const {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", command},
                                            {"CNI_PATH", Join(cni_path_, ':')}};
  if (a != nullptr) {
    env["CNI_CONTAINERID"] = a->container_id;
    env["CNI_NETNS"] = a->netns_path;
    env["CNI_IFNAME"] = a->ifname;
  }
  return env;
}

PluginRun CniRuntime::Invoke(const Json& plugin, const std::map<std::string, std::string>& env,
                             Json extra) const {
  Json conf = plugin;
  conf["name"] = conflist_.at("name");
  conf["cniVersion"] = conflist_.at("cniVersion");
  for (auto& [k, v] : extra.items()) conf[k] = v;
  return ExecPlugin(PluginPath(plugin.at("type")), node_netns_, env, conf.dump());
}

ChainRun CniRuntime::Run(const std::string& command, const Attachment* a, bool reverse,
                         const Json* prev_result, const Json& extra) {
  ChainRun chain;
  Json plugins = conflist_.at("plugins");
  if (reverse) std::reverse(plugins.begin(), plugins.end());
  Json prev = prev_result ? *prev_result : Json();
  for (const auto& plugin : plugins) {
    Json add = extra;
    if (!prev.is_null()) add["prevResult"] = prev;
    chain.last = Invoke(plugin, Env(command, a), add);
    chain.runs.push_back(chain.last);
    if (chain.last.exit_code != 0) {
      chain.plugin = plugin.at("type");
      return chain;
    }
    if (command == "ADD") prev = Json::parse(chain.last.out);
  }
  chain.ok = true;
  if (command == "ADD") chain.result = prev;
  return chain;
}

ChainRun CniRuntime::Add(const Attachment& a) {
  ChainRun run = Run("ADD", &a, false, nullptr, Json::object());
  if (run.ok) {
    std::lock_guard lock(mu_);
    cache_[{a.container_id, a.ifname}] = run.result;
  }
  return run;
}

ChainRun CniRuntime::Check(const Attachment& a) {
  Json cached;
  {
    std::lock_guard lock(mu_);
    cached = cache_.at({a.container_id, a.ifname});
  }
  return Run("CHECK", &a, false, &cached, Json::object());
}

ChainRun CniRuntime::Del(const Attachment& a) {
  Json cached;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find({a.container_id, a.ifname}); it != cache_.end()) {
      cached = it->second;
      known = true;
    }
  }
  ChainRun run = Run("DEL", &a, true, known ? &cached : nullptr, Json::object());
  if (run.ok) {
    std::lock_guard lock(mu_);
    cache_.erase({a.container_id, a.ifname});
  }
  return run;
}

ChainRun CniRuntime::Status() { return Run("STATUS", nullptr, false, nullptr, Json::object()); }

ChainRun CniRuntime::Gc(const std::vector<Attachment>& valid) {
  Json list = Json::array();
  for (const auto& a : valid)
    list.push_back({{"containerID", a.container_id}, {"ifname", a.ifname}});
  return Run("GC", nullptr, false, nullptr, Json{{"cni.dev/valid-attachments", list}});
}

void RunInParallel(int count, int workers, const std::function<void(int)>& step) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < count;) step(i);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace xgate::cni_test
