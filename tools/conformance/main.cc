// xgate-conformance: runs conformance case files end to end (see runner.h).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"
#include "tools/conformance/process.h"
#include "tools/conformance/report.h"
#include "tools/conformance/runner.h"

namespace {

constexpr char kUsage[] =
    "usage: xgate-conformance --cases DIR [--base FILE] [--only NAME] [--keep] [--report FILE] "
    "[--no-explain] [-v]\n"
    "  Runs every case file in DIR (FORMAT.md) end to end in network namespaces against\n"
    "  xgate-agent (found beside this binary), one line per case, then \"N passed, N failed\".\n"
    "  --keep leaves the agent, echo pods, namespaces and run folder (with a cleanup script).\n"
    "  Every HTTP request is also asked of the agent's Explain API, which must agree with\n"
    "  what the proxy did; --no-explain turns that off.\n"
    "  --budget bounds the whole run (default 20m): cases not started by then fail.\n"
    "  Needs root; exits 77 without it unless XGATE_REQUIRE_PRIVILEGED=1.\n";

}  // namespace

int main(int argc, char** argv) {
  xgate::conformance::Options opts;
  opts.bin_dir = xgate::conformance::SelfDir();
  spdlog::set_level(spdlog::level::warn);
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--cases") {
      ok = value(&opts.cases_dir);
    } else if (a == "--base") {
      ok = value(&opts.base_file);
    } else if (a == "--only") {
      ok = value(&opts.only);
    } else if (a == "--report") {
      ok = value(&opts.report_file);
    } else if (a == "--budget") {
      std::string v;
      ok = value(&v) && absl::ParseDuration(v, &opts.budget) && opts.budget > absl::ZeroDuration();
    } else if (a == "--no-explain") {
      opts.explain = false;
    } else if (a == "--keep") {
      opts.keep = true;
    } else if (a == "-v" || a == "--verbose") {
      spdlog::set_level(spdlog::level::info);
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "xgate-conformance: bad argument " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (opts.cases_dir.empty()) {
    std::cerr << kUsage;
    return 2;
  }
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
