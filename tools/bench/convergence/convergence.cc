// xgate-bench-convergence: the measuring half of tools/bench/convergence/run (which builds the
// bed: namespaces, the agent, the proxy, the fast path, in standalone or Kubernetes mode). Each
// subcommand makes changes through the source (the API server, --kubeconfig, or the standalone
// agent's folder, --manifests), asks the gateway until it shows them, and appends its figures
// as JSON lines to --results (run makes the table from them):
//   latency  --runs rounds of: a new HTTPRoute (first 200), a weight flip 100/0 -> 0/100 (all
//            answers from the new backend), the route deleted (404); a new TCPRoute (the L4
//            port answering through the fast path) and its deletion (no answer); --churn N
//            other routes rewritten every --churn-interval-ms meanwhile;
//   changes  --changes rewrites of one route, then the agent's and the proxy's RSS;
//   swaps    --swaps rewrites of one route, each waited for (the run loads the gateway);
//   served   waits for one host (or L4 port) to answer and writes when it did (cold start; it
//            needs no source).
// Every wait has a deadline; a change not seen within --timeout-ms is counted as a timeout.
// Exits 1 when any wait timed out, 2 on bad usage.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"
#include "tools/bench/convergence/bench_routes.h"
#include "tools/bench/convergence/churn.h"
#include "tools/bench/convergence/measure.h"
#include "tools/version/command_line.h"

namespace {

using namespace xgate::bench;

struct Flags {
  Source source;
  Target target;
  std::string results, label, kinds = "http,tcp";
  int routes_present = 0, l4_routes_present = 0, runs = 100, churn = 0, churn_interval_ms = 5,
      changes = 10000, swaps = 1000, agent_pid = 0, proxy_pid = 0, deadline_s = 300, tcp_port = 0,
      udp_port = 0;
  std::string host;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.description(
      "Milliseconds from a change landing to the gateway showing it, RSS under changes, and "
      "config swaps (tools/bench/convergence/run builds the bed and makes the table).");
  auto* kubeconfig =
      app.add_option("--kubeconfig", f.source.kubeconfig, "Make changes through this API server")
          ->type_name("FILE");
  auto* manifests =
      app.add_option("--manifests", f.source.manifests, "Write changes into this agent's folder")
          ->type_name("DIR")
          ->excludes(kubeconfig);
  app.final_callback([&app, kubeconfig, manifests] {
    bool changes =
        app.get_subcommands().empty() || app.get_subcommands().front()->get_name() != "served";
    if (changes && kubeconfig->empty() && manifests->empty()) {
      throw CLI::RequiredError("--kubeconfig FILE or --manifests DIR");
    }
  });
  app.add_option("--cacert", f.target.cacert, "The gateway's CA (PEM)")
      ->type_name("FILE")
      ->required();
  app.add_option("--address", f.target.address, "The HTTPS gateway's address")
      ->capture_default_str();
  app.add_option("--l4-address", f.target.l4_address, "The L4 Gateway bench-l4's address")
      ->capture_default_str();
  app.add_option("--l4-port", f.target.l4_port, "bench-l4's listener tcp-new")
      ->capture_default_str();
  app.add_option("--timeout-ms", f.target.timeout_ms, "How long one change may take to show")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--results", f.results, "Append the figures here (JSON lines)")
      ->type_name("FILE")
      ->required();
  app.add_option("--label", f.label, "The mode written with each figure")->required();
  app.add_option("--routes-present", f.routes_present,
                 "HTTPRoutes in the bed (written with the figures)");
  app.add_option("--l4-routes-present", f.l4_routes_present,
                 "TCP/UDP routes in the bed (written with the figures)");
  app.require_subcommand(1);

  auto* latency = app.add_subcommand("latency", "Time new, changed and deleted routes");
  latency->add_option("--runs", f.runs, "Rounds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  latency->add_option("--kinds", f.kinds, "http, tcp or both")->capture_default_str();
  latency->add_option("--churn", f.churn, "Other routes rewritten meanwhile (0: idle)")
      ->capture_default_str();
  latency->add_option("--churn-interval-ms", f.churn_interval_ms, "One churn write every")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* changes = app.add_subcommand("changes", "Rewrite one route, then read RSS");
  changes->add_option("--changes", f.changes, "Rewrites")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  changes->add_option("--agent-pid", f.agent_pid, "The agent")->required();
  changes->add_option("--proxy-pid", f.proxy_pid, "The proxy")->required();

  auto* swaps = app.add_subcommand("swaps", "Rewrite one route, each rewrite waited for");
  swaps->add_option("--swaps", f.swaps, "Rewrites")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* served = app.add_subcommand("served", "Wait until one host or port answers");
  auto* host = served->add_option("--host", f.host, "An HTTPS host name");
  auto* tcp = served->add_option("--tcp-port", f.tcp_port, "A TCP port of --l4-address");
  auto* udp = served->add_option("--udp-port", f.udp_port, "A UDP port of --l4-address");
  served->add_option("--deadline-s", f.deadline_s, "Give up after")->capture_default_str();
  served->final_callback([host, tcp, udp] {
    if (host->empty() && tcp->empty() && udp->empty()) {
      throw CLI::RequiredError("--host, --tcp-port or --udp-port");
    }
  });
  xgate::cli::AddVersionFlag(app);
}

absl::Status Append(const std::string& file, const std::vector<nlohmann::json>& lines) {
  std::ofstream out(file, std::ios::app);
  for (const auto& line : lines) out << line.dump() << '\n';
  if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", file));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app("", "xgate-bench-convergence");
  AddFlags(app, flags);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto bench = Bench::Create(flags.source, flags.target);
  if (!bench.ok()) {
    spdlog::critical("{}", std::string(bench.status().message()));
    return 2;
  }
  nlohmann::json common = {
      {"mode", flags.label}, {"routes", flags.routes_present}, {"l4", flags.l4_routes_present}};
  std::vector<nlohmann::json> lines;
  bool all_seen = true;
  std::string command = app.get_subcommands().front()->get_name();
  if (command == "latency") {
    std::vector<std::string> kinds = absl::StrSplit(flags.kinds, ',');
    std::unique_ptr<Churn> churn;
    if (flags.churn > 0) {
      auto writer = MakeWriter(flags.source);
      if (!writer.ok()) {
        spdlog::critical("{}", std::string(writer.status().message()));
        return 2;
      }
      auto started = Churn::Start(*std::move(writer), (*bench)->https(), flags.churn,
                                  std::chrono::milliseconds(flags.churn_interval_ms),
                                  Clock::now() + std::chrono::seconds(60));
      if (!started.ok()) {
        spdlog::critical("churn routes: {}", std::string(started.status().message()));
        return 1;
      }
      churn = *std::move(started);
    }
    std::map<std::string, Series> series;
    // A data plane that stopped converging would make every round wait out its timeout.
    constexpr int kMostFailedInARow = 3;
    int failed_in_a_row = 0, runs = 0;
    for (int run = 1; run <= flags.runs && failed_in_a_row < kMostFailedInARow; ++run, ++runs) {
      bool seen = true;
      for (const std::string& kind : kinds) {
        if (kind == "http") seen &= (*bench)->HttpRound(run, series);
        if (kind == "tcp") seen &= (*bench)->TcpRound(run, series);
      }
      failed_in_a_row = seen ? 0 : failed_in_a_row + 1;
      all_seen &= seen;
    }
    if (runs < flags.runs) {
      spdlog::error("stopped after {} of {} runs: {} in a row had a change not seen", runs,
                    flags.runs, kMostFailedInARow);
    }
    std::string load = flags.churn > 0 ? absl::StrCat("churn ", flags.churn, " routes every ",
                                                      flags.churn_interval_ms, " ms")
                                       : "idle";
    for (const auto& [change, s] : series) {
      nlohmann::json line = common;
      line.update({{"part", "latency"},
                   {"change", change},
                   {"load", load},
                   {"ms", s.ms},
                   {"timeouts", s.timeouts},
                   {"stopped", runs < flags.runs}});
      lines.push_back(line);
      std::printf("%s, %s, %s: %zu seen, %d timed out\n", flags.label.c_str(), load.c_str(),
                  change.c_str(), s.ms.size(), s.timeouts);
    }
    if (churn) {
      std::printf("churn: %d writes, %d errors\n", churn->writes(), churn->errors());
    }
  } else if (command == "changes") {
    auto rss = (*bench)->Changes(flags.changes, flags.agent_pid, flags.proxy_pid);
    all_seen = rss.ok();
    if (!rss.ok()) spdlog::error("changes: {}", std::string(rss.status().message()));
    for (const RssSample& sample : rss.ok() ? *rss : std::vector<RssSample>{}) {
      nlohmann::json line = common;
      line.update({{"part", "rss"},
                   {"at", sample.at},
                   {"agent_mb", sample.agent_mb},
                   {"proxy_mb", sample.proxy_mb}});
      lines.push_back(line);
    }
  } else if (command == "swaps") {
    Series s = (*bench)->Swaps(flags.swaps);
    all_seen = s.timeouts == 0;
    nlohmann::json line = common;
    line.update({{"part", "swaps"}, {"ms", s.ms}, {"timeouts", s.timeouts}});
    lines.push_back(line);
  } else {
    auto at = (*bench)->Served(flags.host, flags.tcp_port, flags.udp_port,
                               Clock::now() + std::chrono::seconds(flags.deadline_s));
    all_seen = at.ok();
    nlohmann::json line = common;
    line.update({{"part", "served"},
                 {"what", !flags.host.empty()  ? flags.host
                          : flags.tcp_port > 0 ? absl::StrCat("tcp:", flags.tcp_port)
                                               : absl::StrCat("udp:", flags.udp_port)}});
    if (at.ok()) {
      line["unix_ms"] = *at;
    } else {
      spdlog::error("served: {}", std::string(at.status().message()));
    }
    lines.push_back(line);
  }
  if (absl::Status s = Append(flags.results, lines); !s.ok()) {
    spdlog::critical("{}", std::string(s.message()));
    return 2;
  }
  return all_seen ? 0 : 1;
}
