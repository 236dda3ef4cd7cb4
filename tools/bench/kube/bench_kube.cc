// xgate-bench-kube: milliseconds from an HTTPRoute created (changed, deleted) to the first
// answer of the gateway that shows it, in the seed scenario's bed (tools/bench/kube/run).
// Each round creates a route with a fresh host name (<name>.example.com, foo/foo-home behind
// the Gateway default/prod-web), probes https://<host>/ until the first 200 from foo-home;
// then moves its backend to foo-auth (until the first 200 from foo-auth), then deletes it
// (until the first 404). The clock starts when the source took the change: the API server's
// 201/200 (--kubeconfig), or the file renamed into the standalone agent's folder (--manifests);
// the create is also timed from just before the POST.
//
// Flags: xgate-bench-kube --help. Exits 1 when a round's answer did not come within
// --timeout-ms, 2 on bad usage.
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"
#include "tools/bench/kube/gateway_probe.h"
#include "tools/bench/kube/route_writer.h"
#include "tools/version/command_line.h"

namespace {

using namespace xgate::bench;

// The seed scenario's names (../shared/examples/seed-v1).
constexpr char kRouteNamespace[] = "foo";
constexpr char kFirstBackend[] = "foo-home";
constexpr char kFirstPod[] = "foo-home-0";
constexpr char kSecondBackend[] = "foo-auth";
constexpr char kSecondPod[] = "foo-auth-0";

nlohmann::json Route(const std::string& name, const std::string& host, const char* backend) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", name}, {"namespace", kRouteNamespace}}},
          {"spec",
           {{"parentRefs", {{{"name", "prod-web"}, {"namespace", "default"}}}},
            {"hostnames", {host}},
            {"rules", {{{"backendRefs", {{{"name", backend}, {"port", 8080}}}}}}}}}};
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The figures of one kind of change, one per round that reached its answer.
struct Series {
  std::string what;
  std::vector<double> ms;
};

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Flags {
  std::string kubeconfig, manifests, cacert, address = "198.18.0.1";
  int port = 443, rounds = 20, timeout_ms = 5000;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.description(
      "Milliseconds from an HTTPRoute created, changed and deleted to the first answer of the "
      "gateway that shows it (tools/bench/kube/run builds the bed). Exits 1 when an answer did "
      "not come within --timeout-ms.");
  auto* kubeconfig =
      app.add_option("--kubeconfig", f.kubeconfig, "Create the routes through this API server")
          ->type_name("FILE");
  auto* manifests = app.add_option("--manifests", f.manifests,
                                   "Write the routes into this standalone agent's folder")
                        ->type_name("DIR")
                        ->excludes(kubeconfig);
  app.final_callback([kubeconfig, manifests] {
    if (kubeconfig->empty() && manifests->empty()) {
      throw CLI::RequiredError("--kubeconfig FILE or --manifests DIR");
    }
  });
  app.add_option("--cacert", f.cacert, "The gateway's CA (PEM)")->type_name("FILE")->required();
  app.add_option("--address", f.address, "The gateway's address")->capture_default_str();
  app.add_option("--port", f.port, "The gateway's HTTPS port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--rounds", f.rounds, "Rounds")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--timeout-ms", f.timeout_ms, "How long an answer may take")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  xgate::cli::AddVersionFlag(app);
}

class Bench {
 public:
  Bench(RouteWriter& writer, GatewayProbe& probe, std::chrono::milliseconds timeout)
      : writer_(writer), probe_(probe), timeout_(timeout) {}

  // One round; false when an answer did not come (the route is deleted anyway).
  bool Round(int round) {
    std::string name = absl::StrCat("bench-", getpid(), "-", round);
    std::string host = name + ".example.com";
    nlohmann::json route = Route(name, host, kFirstBackend);
    auto from_pod = [](const char* pod) {
      return [pod](const GatewayAnswer& a) { return a.code == 200 && a.pod == pod; };
    };
    std::vector<std::string> line = {absl::StrCat(round)};
    Clock::time_point before = Clock::now();
    bool ok = Step(
        line, kCreate, [&] { return writer_.Create(route); }, host, from_pod(kFirstPod), before);
    if (ok) {
      route = Route(name, host, kSecondBackend);
      ok = Step(
          line, kChange, [&] { return writer_.Change(route); }, host, from_pod(kSecondPod));
    }
    if (ok) {
      ok = Step(
          line, kDelete, [&] { return writer_.Delete(route); }, host,
          [](const GatewayAnswer& a) { return a.code == 404; });
    } else {
      writer_.Delete(route).IgnoreError();
    }
    std::string out;
    for (const std::string& cell : line) absl::StrAppend(&out, absl::StrFormat("%-14s", cell));
    std::printf("%s\n", out.c_str());
    return ok;
  }

  void Summary() const {
    std::printf("\n%-44s %8s %8s %8s %8s %7s\n", "ms to the first answer that shows the change",
                "min", "median", "p90", "max", "rounds");
    for (const Series& s : series_) {
      if (s.ms.empty()) continue;
      std::printf("%-44s %8.1f %8.1f %8.1f %8.1f %7zu\n", s.what.c_str(), Quantile(s.ms, 0),
                  Quantile(s.ms, 0.5), Quantile(s.ms, 0.9), Quantile(s.ms, 1), s.ms.size());
    }
  }

  static void Header() {
    std::printf("%-14s%-14s%-14s%-14s%-14s\n", "round", "create", "create+call", "change",
                "delete");
  }

 private:
  // Indexes of series_.
  enum : size_t { kCreate, kCreateFromCall, kChange, kDelete };

  // Makes the change, probes for its answer, records ms in series_[index] (and, when `before`
  // is given, the time from it in series_[index + 1]).
  template <typename Change>
  bool Step(std::vector<std::string>& line, size_t index, Change change, const std::string& host,
            const std::function<bool(const GatewayAnswer&)>& wanted,
            std::optional<Clock::time_point> before = std::nullopt) {
    absl::Status made = change();
    Clock::time_point taken = Clock::now();
    if (!made.ok()) {
      spdlog::error("{} of {}: {}", series_[index].what, host, std::string(made.message()));
      line.push_back("error");
      return false;
    }
    auto result = probe_.Until(host, wanted, taken + timeout_);
    if (!result.ok()) {
      spdlog::error("{}: no such answer within {} ms: {}", series_[index].what, timeout_.count(),
                    std::string(result.status().message()));
      line.push_back("timeout");
      return false;
    }
    series_[index].ms.push_back(Ms(result->answered - taken));
    line.push_back(absl::StrFormat("%.1f", series_[index].ms.back()));
    if (before) {
      series_[index + 1].ms.push_back(Ms(result->answered - *before));
      line.push_back(absl::StrFormat("%.1f", series_[index + 1].ms.back()));
    }
    return true;
  }

  RouteWriter& writer_;
  GatewayProbe& probe_;
  std::chrono::milliseconds timeout_;
  std::vector<Series> series_ = {
      {"create -> first 200 (from the source's answer)", {}},
      {"create -> first 200 (from before the call)", {}},
      {"backend change -> first 200 from the new one", {}},
      {"delete -> first 404", {}},
  };
};

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app("", "xgate-bench-kube");
  AddFlags(app, flags);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto writer = MakeRouteWriter(flags.kubeconfig, flags.manifests);
  if (!writer.ok()) {
    spdlog::critical("--kubeconfig {}: {}", flags.kubeconfig,
                     std::string(writer.status().message()));
    return 2;
  }
  auto probe =
      GatewayProbe::Create({.address = flags.address, .port = flags.port, .ca_file = flags.cacert});
  if (!probe.ok()) {
    spdlog::critical("{}", std::string(probe.status().message()));
    return 2;
  }
  std::printf("HTTPRoutes through %s; the gateway %s:%d asked every 1 ms (ms per round)\n",
              (*writer)->Describe().c_str(), flags.address.c_str(), flags.port);
  Bench bench(**writer, **probe, std::chrono::milliseconds(flags.timeout_ms));
  Bench::Header();
  int failed = 0;
  for (int round = 1; round <= flags.rounds; ++round) failed += bench.Round(round) ? 0 : 1;
  bench.Summary();
  if (failed > 0) {
    spdlog::error("{} of {} rounds did not see their answer within {} ms", failed, flags.rounds,
                  flags.timeout_ms);
    return 1;
  }
  return 0;
}
