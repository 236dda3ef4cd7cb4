// xgate-bench-proxy-swap: the proxy's side of a config change, in process. It builds the
// L7Config the agent's compiler makes for --routes HTTPRoutes (one virtual host each,
// rN.example.com; every 50th a wildcard *.wN.example.com, every 25th a regex path match), then
// prints the CPU ms of: the agent's diff against the config before (ConfigDelta) and its
// serialize, the proxy's parse, the proxy's apply (route table, TLS contexts, listeners, both
// workers picking the config up), from cold and for one change among N (one virtual host's
// weight changed), sent whole and sent as a delta (alternately); and the ns per request of
// the virtual host pick (RouteTable::Match) for an exact host, a wildcard host and no match.
// CPU ms are the process's (the workers' pick-up included), so a loaded machine does not
// inflate them.
//
// `valgrind --tool=callgrind --collect-atstart=no` counts the deltas' send and apply alone.
//
// Usage: xgate-bench-proxy-swap [--routes 10000] [--changes 20] [--requests 200000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/l7/config_delta.h"
#include "agent/sources/store.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

// Under `valgrind --tool=callgrind --collect-atstart=no`, only the deltas' send and apply.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define XGATE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define XGATE_COLLECT()
#endif

namespace {

using namespace xgate;
using nlohmann::json;

double ProcessCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double Timed(const std::function<void()>& f) {
  double start = ProcessCpuMs();
  f();
  return ProcessCpuMs() - start;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

json Meta(const std::string& name) { return {{"name", name}, {"namespace", "scale"}}; }

std::string WildcardHost(int i) { return absl::StrCat("*.w", i, ".example.com"); }
std::string ExactHost(int i) { return absl::StrCat("r", i, ".example.com"); }
bool IsWildcardRoute(int i) { return i % 50 == 0; }

// The route, its Service and its EndpointSlice, as API objects.
std::vector<json> RouteObjects(int i) {
  std::string name = absl::StrCat("r", i);
  json match = {{"path", {{"type", "PathPrefix"}, {"value", "/"}}}};
  if (i % 25 == 0) match["path"] = {{"type", "RegularExpression"}, {"value", "/api/v[0-9]+/.*"}};
  json route = {
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "HTTPRoute"},
      {"metadata", Meta(name)},
      {"spec",
       {{"parentRefs", {{{"name", "gw"}, {"namespace", "scale"}, {"sectionName", "http"}}}},
        {"hostnames", {IsWildcardRoute(i) ? WildcardHost(i) : ExactHost(i)}},
        {"rules", {{{"matches", {match}}, {"backendRefs", {{{"name", name}, {"port", 8080}}}}}}}}}};
  json service = {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"metadata", Meta(name)},
                  {"spec", {{"ports", {{{"name", "p"}, {"port", 8080}, {"protocol", "TCP"}}}}}}};
  json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                {"kind", "EndpointSlice"},
                {"metadata",
                 {{"name", name + "-1"},
                  {"namespace", "scale"},
                  {"labels", {{"kubernetes.io/service-name", name}}}}},
                {"addressType", "IPv4"},
                {"ports", {{{"name", "p"}, {"port", 8080}, {"protocol", "TCP"}}}},
                {"endpoints",
                 {{{"addresses", {absl::StrCat("198.18.", 1 + i / 250, ".", 1 + i % 250)}},
                   {"conditions", {{"ready", true}}}}}}};
  return {route, service, slice};
}

std::vector<json> GatewayObjects() {
  return {{{"apiVersion", "gateway.networking.k8s.io/v1"},
           {"kind", "GatewayClass"},
           {"metadata", {{"name", "xgate"}}},
           {"spec", {{"controllerName", "xgate.dev/node-agent"}}}},
          {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "scale"}}}},
          {{"apiVersion", "gateway.networking.k8s.io/v1"},
           {"kind", "Gateway"},
           {"metadata", Meta("gw")},
           {"spec",
            {{"gatewayClassName", "xgate"},
             {"addresses", {{{"type", "IPAddress"}, {"value", "198.18.100.1"}}}},
             {"listeners",
              {{{"name", "http"},
                {"port", 80},
                {"protocol", "HTTP"},
                {"allowedRoutes", {{"namespaces", {{"from", "Same"}}}}}}}}}}}};
}

// What the compiler makes of the routes, or an error.
absl::StatusOr<api::L7Config> CompiledConfig(int routes) {
  sources::ObjectStore store;
  std::map<std::string, sources::Document> documents;
  auto add = [&](const json& object) {
    std::string origin = absl::StrCat(object["kind"].get<std::string>(), "/scale/",
                                      object["metadata"]["name"].get<std::string>());
    documents[origin] = sources::Document{origin, "", object, false};
  };
  for (const json& o : GatewayObjects()) add(o);
  for (int i = 0; i < routes; ++i) {
    for (const json& o : RouteObjects(i)) add(o);
  }
  store.Replace("bench", std::move(documents));
  auto loaded = store.Load();
  if (!loaded.ok()) return loaded.status();
  binder::BindResult bound = binder::Bind(loaded->store, {});
  std::shared_ptr<const compiler::Snapshot> snapshot = compiler::Compile(bound, 1);
  return snapshot->l7;
}

int VirtualHosts(const api::L7Config& config) {
  int n = 0;
  for (const auto& port : config.ports()) {
    for (const auto& listener : port.listeners()) n += listener.virtual_hosts_size();
  }
  return n;
}

// A loopback port nobody listens on now (the bench's proxy binds it).
uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

struct Figures {
  double diff = 0, serialize = 0, parse = 0, apply = 0;
};

// Serializes `config` (the agent), parses it (the proxy) and applies it to `server`, waiting
// until both workers serve it. False when the proxy rejects it.
bool SendAndApply(const api::L7Config& config, proxy::Server& server, Figures& out) {
  std::string bytes;
  out.serialize = Timed([&] { config.SerializeToString(&bytes); });
  api::L7Config received;
  out.parse = Timed([&] { received.ParseFromString(bytes); });
  bool ok = false;
  uint64_t generation = config.generation();
  out.apply = Timed([&] {  // moved in, as the proxy's config stream does
    ok = server.Apply(std::move(received)).ok() &&
         server.WaitApplied(generation, std::chrono::seconds(30));
  });
  return ok;
}

// CPU ns per Match of a request for `host` (cycling over `hosts`), and whether each answer
// had the expected outcome.
double MatchNs(const routing::RouteTable& table, uint16_t port,
               const std::vector<std::string>& hosts, int requests, bool routed, bool& ok) {
  std::vector<http::RequestHead> heads(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) {
    heads[i].method = "GET";
    heads[i].path = "/api/v1/x";
    heads[i].host = hosts[i];
  }
  routing::MatchInput input{"127.0.0.1", port, "", nullptr};
  int wrong = 0;
  double ms = Timed([&] {
    for (int r = 0; r < requests; ++r) {
      input.request = &heads[static_cast<size_t>(r) % heads.size()];
      routing::RouteDecision d = table.Match(input);
      wrong += (d.outcome == routing::RouteDecision::Outcome::kRouted) != routed;
    }
  });
  if (wrong > 0) {
    std::fprintf(stderr, "%d of %d requests for %s had the wrong outcome\n", wrong, requests,
                 hosts.front().c_str());
    ok = false;
  }
  return ms * 1e6 / requests;
}

}  // namespace

int main(int argc, char** argv) {
  int routes = 10000, changes = 20, requests = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--routes" && v >= 50) {
      routes = v;
    } else if (a == "--changes" && v > 0) {
      changes = v;
    } else if (a == "--requests" && v > 0) {
      requests = v;
    } else {
      std::fprintf(stderr,
                   "usage: xgate-bench-proxy-swap [--routes N>=50] [--changes N] "
                   "[--requests N]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  proxy::AccessLog::Disable();
  auto compiled = CompiledConfig(routes);
  if (!compiled.ok() || VirtualHosts(*compiled) != routes) {
    std::fprintf(stderr, "compile: %s, %d virtual hosts for %d routes\n",
                 compiled.status().ToString().c_str(), compiled.ok() ? VirtualHosts(*compiled) : 0,
                 routes);
    return 1;
  }
  api::L7Config config = *std::move(compiled);
  uint16_t port = FreeLoopbackPort();
  for (api::Port& p : *config.mutable_ports()) {  // served on loopback, not the Gateway's IP
    p.set_port(port);
    p.clear_addresses();
    p.add_addresses("127.0.0.1");
  }
  proxy::ServerOptions options;
  options.workers = 2;
  proxy::Server server(options);
  server.Start();

  l7::ConfigDelta deltas;
  Figures cold;
  cold.diff = Timed([&] { deltas.Next(config); });
  if (!SendAndApply(config, server, cold)) {
    std::fprintf(stderr, "the proxy rejected the cold config\n");
    return 1;
  }
  std::vector<Figures> whole, delta;
  auto& vhosts = *config.mutable_ports(0)->mutable_listeners(0)->mutable_virtual_hosts();
  for (int c = 0; c < 2 * changes; ++c) {
    config.set_generation(config.generation() + 1);
    api::Route& route = *vhosts[(c * 7919) % vhosts.size()].mutable_routes(0);
    route.mutable_backends(0)->set_weight(route.backends(0).weight() == 7 ? 1 : 7);
    Figures f;
    std::optional<api::L7Config> d;
    f.diff = Timed([&] { d = deltas.Next(config); });
    bool as_delta = c % 2 == 1;
    if (as_delta) XGATE_COLLECT();
    bool applied = d && SendAndApply(as_delta ? *d : config, server, f);
    if (as_delta) XGATE_COLLECT();
    if (!applied) {
      std::fprintf(stderr, "the proxy rejected change %d (%s)\n", c, as_delta ? "delta" : "whole");
      return 1;
    }
    (as_delta ? delta : whole).push_back(f);
  }
  auto median = [&](const std::vector<Figures>& figures, double Figures::*field) {
    std::vector<double> v;
    for (const Figures& f : figures) v.push_back(f.*field);
    return Median(v);
  };

  std::vector<std::string> exact, wildcard, none;
  for (int i = 1; i < routes && exact.size() < 1000; i += 7) {
    if (!IsWildcardRoute(i)) exact.push_back(ExactHost(i));
  }
  for (int i = 0; i < routes; i += 50) {
    wildcard.push_back(absl::StrCat("a.w", i, ".example.com:80"));
  }
  for (int i = 0; i < 100; ++i) none.push_back(absl::StrCat("n", i, ".example.org"));
  auto current = server.config();
  bool ok = true;
  double exact_ns = MatchNs(current->table(), port, exact, requests, true, ok);
  double wildcard_ns = MatchNs(current->table(), port, wildcard, requests, true, ok);
  double none_ns = MatchNs(current->table(), port, none, requests, false, ok);
  server.Stop();

  std::printf("%d HTTPRoutes (%d virtual hosts): CPU ms, the proxy's workers included\n", routes,
              VirtualHosts(config));
  std::printf("%-34s %10s %16s %16s\n", "stage", "cold", "change: whole", "change: delta");
  auto row = [&](const char* name, double Figures::*field) {
    std::printf("%-34s %10.1f %16.2f %16.2f\n", name, cold.*field, median(whole, field),
                median(delta, field));
  };
  row("agent: diff (ConfigDelta)", &Figures::diff);
  row("agent: serialize", &Figures::serialize);
  row("proxy: parse", &Figures::parse);
  row("proxy: apply (table, TLS, workers)", &Figures::apply);
  auto total = [&](const std::vector<Figures>& figures) {
    return median(figures, &Figures::diff) + median(figures, &Figures::serialize) +
           median(figures, &Figures::parse) + median(figures, &Figures::apply);
  };
  std::printf("%-34s %10.1f %16.2f %16.2f\n", "total (medians)",
              cold.diff + cold.serialize + cold.parse + cold.apply, total(whole), total(delta));
  std::printf("virtual host pick, CPU ns per request: exact %.0f, wildcard %.0f, no match %.0f\n",
              exact_ns, wildcard_ns, none_ns);
  return ok ? 0 : 1;
}
