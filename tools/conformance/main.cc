// xgate-conformance: runs conformance case files end to end (see runner.h).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"
#include "tools/conformance/process.h"
#include "tools/conformance/report.h"
#include "tools/conformance/runner.h"
#include "tools/version/command_line.h"

int main(int argc, char** argv) {
  xgate::conformance::Options opts;
  opts.bin_dir = xgate::conformance::SelfDir();
  spdlog::set_level(spdlog::level::warn);
  CLI::App app(
      "Runs every case file in DIR (FORMAT.md) end to end in network namespaces against\n"
      "xgate-agent (found beside this binary), one line per case, then \"N passed, N failed\".\n"
      "Every HTTP request is also asked of the agent's Explain API, which must agree with what\n"
      "the proxy did. Needs root; exits 77 without it unless XGATE_REQUIRE_PRIVILEGED=1.",
      "xgate-conformance");
  app.add_option("--cases", opts.cases_dir, "The case files")->type_name("DIR")->required();
  app.add_option("--base", opts.base_file, "Manifests every case starts from")->type_name("FILE");
  app.add_option("--only", opts.only, "Only the case of this name")->type_name("NAME");
  app.add_option("--report", opts.report_file, "Write the results as YAML")->type_name("FILE");
  app.add_option_function<std::string>(
         "--budget", [&opts](const std::string& v) { (void)absl::ParseDuration(v, &opts.budget); },
         "Bounds the whole run (default 20m): cases not started by then fail")
      ->type_name("DURATION")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            absl::Duration d;
            if (absl::ParseDuration(v, &d) && d > absl::ZeroDuration()) return "";
            return "a positive duration such as 90s or 20m, got " + v;
          },
          "", ""));
  app.add_flag_callback(
      "--no-explain", [&opts] { opts.explain = false; },
      "Do not ask the Explain API about each request");
  app.add_flag("--keep", opts.keep,
               "Leave the agent, echo pods, namespaces and run folder (with a cleanup script)");
  app.add_flag_callback(
      "-v,--verbose", [] { spdlog::set_level(spdlog::level::info); }, "Log what the runner does");
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  const char* require = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  if (geteuid() != 0 && (require == nullptr || std::string(require) != "1")) {
    std::cout << "SKIP: xgate-conformance needs root (network namespaces)\n";
    return 77;
  }
  xgate::conformance::InstallSignalHandlers();
  if (opts.keep) xgate::conformance::LetChildrenOutlive();
  xgate::conformance::Runner runner(opts);
  absl::StatusOr<std::vector<xgate::conformance::CaseResult>> results = runner.Run();
  if (!results.ok()) {
    std::cerr << "xgate-conformance: " << results.status().message() << "\n";
    return 2;
  }
  int passed = 0, failed = 0;
  for (const auto& r : *results) (r.passed ? passed : failed)++;
  std::cout << runner.ExplainSummary() << "\n"
            << passed << " passed, " << failed << " failed" << std::endl;
  if (!opts.report_file.empty()) {
    std::ofstream out(opts.report_file);
    out << xgate::conformance::ReportYaml(
        *results, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()));
    if (!out) {
      std::cerr << "xgate-conformance: cannot write " << opts.report_file << "\n";
      return 2;
    }
  }
  return failed == 0 ? 0 : 1;
}
