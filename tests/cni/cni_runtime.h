// A container runtime's side of CNI, as libcni does it (Debian has no cnitool): each plugin of
// a conflist run in order with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and
// CNI_PATH set and its configuration on stdin (name and cniVersion from the list, prevResult
// from the plugin before); DEL in reverse order with the cached result; the result cached per
// attachment for CHECK and DEL. Plugins run inside a given network namespace (the "node").
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xgate::cni_test {

using Json = nlohmann::ordered_json;

// Runs step(0) .. step(count - 1) on `workers` threads, as a runtime adding many pods at once.
void RunInParallel(int count, int workers, const std::function<void(int)>& step);

struct PluginRun {
  int exit_code = -1;  // -1: could not run, or killed at the deadline
  std::string out;
  std::string err;
};

// Runs one plugin executable in network namespace `netns` ("" for this one) with exactly
// `env` (plus PATH) and `stdin_text`; bounded by a 60 s deadline.
PluginRun ExecPlugin(const std::string& path, const std::string& netns,
                     const std::map<std::string, std::string>& env, const std::string& stdin_text);

struct Attachment {
  std::string container_id;
  std::string netns_path;  // CNI_NETNS
  std::string ifname = "eth0";
};

struct ChainRun {
  bool ok = false;
  std::string plugin;           // the plugin that failed, when one did
  PluginRun last;               // that plugin's run, or the last plugin's
  std::vector<PluginRun> runs;  // every plugin's run, in the order they ran
  Json result;                  // ADD: the chain's result
};

class CniRuntime {
 public:
  // `cni_path`: the folders plugins are looked up in (CNI_PATH), in order.
  CniRuntime(Json conflist, std::vector<std::string> cni_path, std::string node_netns);

  ChainRun Add(const Attachment& a);
  ChainRun Check(const Attachment& a);
  ChainRun Del(const Attachment& a);  // reverse order; forgets the cached result on success
  ChainRun Status();
  ChainRun Gc(const std::vector<Attachment>& valid);

  // One plugin invocation with the conflist's name and cniVersion injected.
  PluginRun Invoke(const Json& plugin, const std::map<std::string, std::string>& env,
                   Json extra) const;
  std::string PluginPath(const std::string& type) const;
  std::map<std::string, std::string> Env(const std::string& command, const Attachment* a) const;

 private:
  ChainRun Run(const std::string& command, const Attachment* a, bool reverse,
               const Json* prev_result, const Json& extra);
  Json conflist_;
  std::vector<std::string> cni_path_;
  std::string node_netns_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Json> cache_;  // (container, ifname) -> result
};

}  // namespace xgate::cni_test
