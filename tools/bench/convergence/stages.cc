// xgate-bench-stages: where the agent's time goes, in process and without a data plane. It
// writes a manifest folder (a Gateway with an HTTP and a TCP listener range, --routes
// HTTPRoutes and --tcp TCPRoutes, each with its Service and EndpointSlice, in one file as
// tools/bench/kube/run does), runs the folder source and the pipeline (no appliers) on it
// from cold, then makes --changes changes (a new route file, a weight change, a deletion in
// turn) and prints the ms of each stage: folder read, store load, bind, same-state check,
// compile, and the whole reload, in CPU ms (the process's time: a loaded machine does not
// inflate it), and the store load's wall-clock ms (it decodes a large batch on several threads).
// --objects 1 feeds the store as the Kubernetes source does instead: one API object (JSON,
// already parsed) per document, so the store load decodes objects, not YAML.
//
// `valgrind --tool=callgrind --collect-atstart=no` counts the changes' pipeline reloads alone.
//
// Usage: xgate-bench-stages [--routes 10000] [--tcp 0] [--changes 20] [--objects 0|1]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/model/yaml_json.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pipeline/same_state.h"
#include "agent/sources/folder_source.h"
#include "agent/sources/store.h"
#include "agent/status/status.h"
#include "spdlog/spdlog.h"

// Under `valgrind --tool=callgrind --collect-atstart=no`, only the changes' pipeline reloads
// are counted: their instructions without the cold start's.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define XGATE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define XGATE_COLLECT()
#endif

namespace {

namespace fs = std::filesystem;
using namespace xgate;

// CPU ms of the process (every thread: the store decodes a large batch on several), what
// the stage costs whatever else the machine is running; or wall-clock ms.
double Ms(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double Timed(const std::function<void()>& f, clockid_t clock = CLOCK_PROCESS_CPUTIME_ID) {
  double start = Ms(clock);
  f();
  return Ms(clock) - start;
}

std::string Backend(const std::string& ns, const std::string& name, const char* protocol) {
  return absl::StrCat(
      "---\napiVersion: v1\nkind: Service\nmetadata: {name: ", name, ", namespace: ", ns,
      "}\nspec:\n  ports: [{name: p, port: 8080, protocol: ", protocol,
      "}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
      "metadata:\n  name: ",
      name, "-1\n  namespace: ", ns, "\n  labels: {kubernetes.io/service-name: ", name,
      "}\naddressType: IPv4\nports: [{name: p, port: 8080, protocol: ", protocol,
      "}]\nendpoints:\n- addresses: [198.18.1.12]\n  conditions: {ready: true}\n");
}

std::string HttpRoute(const std::string& name, int weight) {
  return absl::StrCat(
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ", name,
      ", namespace: scale}\nspec:\n  parentRefs: [{name: gw, namespace: scale, sectionName: "
      "http}]\n  hostnames: [",
      name, ".example.com]\n  rules:\n  - backendRefs: [{name: ", name,
      ", port: 8080, weight: ", weight, "}]\n", Backend("scale", name, "TCP"));
}

std::string TcpRoute(int i) {
  std::string name = absl::StrCat("t", i);
  return absl::StrCat(
      "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: ",
      name, ", namespace: scale}\nspec:\n  parentRefs: [{name: gw, namespace: scale, sectionName: ",
      "tcp", i, "}]\n  rules:\n  - backendRefs: [{name: ", name, ", port: 8080}]\n",
      Backend("scale", name, "TCP"));
}

std::string GatewayYaml(int tcp) {
  std::string out =
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: xgate}\n"
      "spec: {controllerName: xgate.dev/node-agent}\n---\napiVersion: v1\nkind: "
      "Namespace\nmetadata: {name: scale}\n---\napiVersion: gateway.networking.k8s.io/v1\n"
      "kind: Gateway\nmetadata: {name: gw, namespace: scale}\nspec:\n  gatewayClassName: xgate\n"
      "  addresses: [{type: IPAddress, value: 198.18.100.1}]\n  listeners:\n"
      "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}\n";
  for (int i = 0; i < tcp; ++i) {
    absl::StrAppend(&out, "  - {name: tcp", i, ", port: ", 10000 + i,
                    ", protocol: TCP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}\n");
  }
  return out;
}

void Write(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

// Puts every object of `yaml` into `store` as the Kubernetes source does (key
// "Kind/namespace/name", the object as JSON), or erases them; returns their keys.
std::vector<std::string> PutObjects(sources::ObjectStore& store, const std::string& yaml,
                                    bool erase = false) {
  std::vector<std::string> keys;
  for (auto& doc : model::ParseYaml(yaml).documents) {
    if (!doc.value.is_object()) continue;
    const auto& meta = doc.value["metadata"];
    std::string key =
        absl::StrCat(doc.value["kind"].get<std::string>(), "/",
                     meta.value("namespace", std::string()), "/", meta["name"].get<std::string>());
    if (erase) {
      store.Erase("kube", key);
    } else {
      store.Put("kube", key, sources::Document{key, "", std::move(doc.value)});
    }
    keys.push_back(key);
  }
  return keys;
}

struct Stages {
  std::map<std::string, std::vector<double>> ms;
  void Add(const std::string& stage, double v) { ms[stage].push_back(v); }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int routes = 10000, tcp = 0, changes = 20;
  bool objects = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--routes")
      routes = v;
    else if (a == "--tcp")
      tcp = v;
    else if (a == "--changes")
      changes = v;
    else if (a == "--objects")
      objects = v != 0;
    else {
      std::fprintf(stderr,
                   "usage: xgate-bench-stages [--routes N] [--tcp N] [--changes N] "
                   "[--objects 0|1]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  fs::path dir = fs::temp_directory_path() / absl::StrCat("xgate-stages.", getpid());
  fs::create_directories(dir);
  std::string scale = GatewayYaml(tcp);
  for (int i = 0; i < routes; ++i) scale += HttpRoute(absl::StrCat("r", i), 1);
  for (int i = 0; i < tcp; ++i) scale += TcpRoute(i);
  sources::ObjectStore store;
  sources::FolderSource folder(dir, store);
  if (objects) {
    PutObjects(store, scale);
  } else {
    Write(dir / "scale.yaml", scale);
  }
  // Each change, written as a file or put as objects.
  auto change_route = [&](const std::string& name, int weight) {
    if (objects) {
      PutObjects(store, HttpRoute(name, weight));
    } else {
      Write(dir / (name + ".yaml"), HttpRoute(name, weight));
    }
  };
  auto delete_route = [&](const std::string& name) {
    if (objects) {
      PutObjects(store, HttpRoute(name, 1), /*erase=*/true);
    } else {
      fs::remove(dir / (name + ".yaml"));
    }
  };
  pipeline::PipelineOptions options;
  options.carry_generations = !objects;  // as main.cc runs each mode
  pipeline::Pipeline pipe(store, {"198.18.0.1"}, {}, options);
  binder::BindMemo memo;  // as the pipeline keeps them
  compiler::CompileMemo compile_memo;
  // Each stage on its own, then the pipeline's reload (all of them, the load then cached).
  auto measure = [&](Stages& s, bool collect) {
    if (!objects) s.Add("folder read", Timed([&] { folder.Sync().IgnoreError(); }));
    absl::StatusOr<model::LoadResult> loaded;
    double cpu = 0;
    double wall = Timed([&] { cpu = Timed([&] { loaded = store.Load(); }); }, CLOCK_MONOTONIC);
    s.Add("store load", cpu);
    s.Add("store load (wall ms)", wall);
    binder::BindResult bound;
    s.Add("bind", Timed([&] { bound = binder::Bind(loaded->store, {}, &memo); }));
    s.Add("same-state check",
          Timed([&] { pipeline::SameState(*loaded, bound.statuses, *loaded, bound.statuses); }));
    s.Add("compile", Timed([&] { compiler::Compile(bound, 1, {}, &compile_memo); }));
    absl::Status reloaded;
    s.Add("pipeline reload", Timed([&] {
            if (collect) XGATE_COLLECT();
            reloaded = pipe.Reload();
            if (collect) XGATE_COLLECT();
          }));
    return reloaded;
  };
  // Every route is served: one virtual host each on the HTTP port.
  auto hosts = [&] {
    auto state = pipe.Current();
    int n = 0;
    if (state == nullptr) return n;
    for (const auto& port : state->snapshot->l7.ports()) {
      for (const auto& listener : port.listeners()) n += listener.virtual_hosts_size();
    }
    return n;
  };
  Stages cold, change;
  if (absl::Status s = measure(cold, false); !s.ok() || hosts() != routes) {
    std::fprintf(stderr, "cold: %s, %d virtual hosts for %d routes\n", s.ToString().c_str(),
                 hosts(), routes);
    fs::remove_all(dir);
    return 1;
  }
  for (int c = 0; c < changes; ++c) {
    std::string name = absl::StrCat("bench", c / 3);
    switch (c % 3) {
      case 0:
        change_route(name, 1);
        break;
      case 1:
        change_route(name, 7);
        break;
      default:
        delete_route(name);
    }
    if (absl::Status s = measure(change, true); !s.ok()) {
      std::fprintf(stderr, "change %d: %s\n", c, s.ToString().c_str());
      fs::remove_all(dir);
      return 1;
    }
  }
  std::printf(
      "%d HTTPRoutes, %d TCPRoutes, %s: CPU ms per stage (the pipeline reload does them all)\n",
      routes, tcp, objects ? "API objects" : "manifest folder");
  std::printf("%-22s %10s %16s\n", "stage", "cold", "change (median)");
  for (const auto& [stage, v] : cold.ms) {
    std::printf("%-22s %10.1f %16.1f\n", stage.c_str(), v.front(), Median(change.ms[stage]));
  }
  fs::remove_all(dir);
  return 0;
}
