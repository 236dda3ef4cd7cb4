// Every xgate binary's command line (CLI11): --help exits 0 and lists every flag, --version
// prints the git description baked in at build time, and a flag it does not know fails with an
// error that names it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/cli/run_command.h"
#include "tools/version/version.h"

namespace xgate {
namespace {

using ::testing::HasSubstr;
using testing_cli::RunCommand;

struct Binary {
  std::string name;  // as --version names it
  std::string path;
  // Each help page (the arguments that print it) with the flags it must list.
  std::vector<std::pair<std::string, std::vector<std::string>>> help;
};

void PrintTo(const Binary& b, std::ostream* os) { *os << b.name; }

const std::vector<std::string> kSocket = {"--socket",     "-s",        "--server",         "--node",
                                          "--kubeconfig", "--context", "--agent-namespace"};

std::vector<std::string> With(std::vector<std::string> flags,
                              const std::vector<std::string>& more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

std::vector<Binary> Binaries() {
  std::vector<Binary> all = {
      {"xgate-agent",
       XGATE_AGENT_PATH,
       {{"--help",
         {"--manifests", "--kubeconfig", "--node-name", "--namespace", "--attach", "--pin-root",
          "--admin-socket", "--metrics-addr", "--detach-on-exit", "--cni-state-dir", "--proxy-user",
          "--version"}}}},
      {"xgatectl",
       XGATECTL_PATH,
       {{"--help", With(kSocket, {"--output", "--version", "check", "get", "status", "explain",
                                  "apply", "delete", "completion"})},
        {"check --help", {"--filename", "-f", "--output", "-o"}},
        {"get --help",
         With(kSocket, {"TYPE", "NAME", "--selector", "-l", "--namespace", "-n", "--all-namespaces",
                        "-A", "--no-headers", "--limit", "--output"})},
        {"status --help", With(kSocket, {"--output"})},
        {"explain request --help", With(kSocket, {"--listener", "--sni", "--host", "--method",
                                                  "--path", "--header", "-H", "--output"})},
        {"explain packet --help", With(kSocket, {"--src", "--dst", "--proto", "--output"})},
        {"apply --help", With(kSocket, {"--filename"})},
        {"delete --help", With(kSocket, {"--filename"})},
        {"completion --help", {"SHELL"}}}},
      {"kubectl xgate", KUBECTL_XGATE_PATH, {{"--help", {"Usage: kubectl xgate", "get"}}}},
      {"xgate-cni", XGATE_CNI_PATH, {{"--help", {"--version", "CNI_COMMAND"}}}},
      {"xgate-proxy",
       XGATE_PROXY_PATH,
       {{"--help",
         {"--socket", "--stats-socket", "--config", "--workers", "--access-log", "--log-level",
          "--eject-backoff", "--user", "--steer-map", "--max-connections",
          "--h2-max-concurrent-streams", "--buffer-limit", "--version"}}}},
      {"xgate-cni-install",
       XGATE_CNI_INSTALL_PATH,
       {{"--help",
         {"--cni-conf-dir", "--cni-bin-dir", "--plugin", "--state-dir", "--admin-socket", "--wait",
          "--watch", "--uninstall-on-exit", "--uninstall", "--version"}}}},
      {"xgate-test-apiserver",
       XGATE_TEST_APISERVER_PATH,
       {{"--help",
         {"--dir", "--listen", "--token-file", "--state", "--preload", "--san", "--history",
          "--bookmark-interval-ms", "--watch-timeout-seconds", "--threads", "--version"}}}},
      {"xgate-echo",
       XGATE_ECHO_PATH,
       {{"--help",
         {"--listen", "--udp", "--tls-cert", "--tls-key", "--namespace", "--pod", "--log",
          "--ready-file", "--version"}}}},
      {"xgate-conformance",
       XGATE_CONFORMANCE_PATH,
       {{"--help",
         {"--cases", "--base", "--only", "--report", "--budget", "--no-explain", "--keep",
          "--verbose", "-v", "--version"}}}},
      {"xgate-bench-l4",
       XGATE_BENCH_L4_PATH,
       {{"--help", {"--rounds", "--packets", "--flows", "--repeat", "--version"}}}},
      {"xgate-bench-kube",
       XGATE_BENCH_KUBE_PATH,
       {{"--help",
         {"--kubeconfig", "--manifests", "--cacert", "--address", "--port", "--rounds",
          "--timeout-ms", "--version"}}}},
  };
#ifdef XGATE_BENCH_HTTP_PARSE_PATH
  // Google Benchmark's own flags and --help; --version is xgate's.
  all.push_back({"xgate-bench-http-parse",
                 XGATE_BENCH_HTTP_PARSE_PATH,
                 {{"--help", {"--benchmark_filter", "--benchmark_format"}}}});
#endif
  return all;
}

class CommandLine : public ::testing::TestWithParam<Binary> {};

TEST_P(CommandLine, HelpListsEveryFlag) {
  for (const auto& [args, flags] : GetParam().help) {
    auto r = RunCommand(GetParam().path + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ":\n" << r.output;
    for (const std::string& flag : flags) {
      EXPECT_THAT(r.output, HasSubstr(flag)) << GetParam().name << " " << args;
    }
  }
}

TEST_P(CommandLine, VersionIsTheBuildsGitDescription) {
  auto r = RunCommand(GetParam().path + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, GetParam().name + " " + std::string(GitDescription()) + "\n");
}

TEST_P(CommandLine, AnUnknownFlagFailsNamingIt) {
  auto r = RunCommand(GetParam().path + " --no-such-flag");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--no-such-flag"));
}

INSTANTIATE_TEST_SUITE_P(Binaries, CommandLine, ::testing::ValuesIn(Binaries()),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// A flag's value that does not fit is refused naming the flag (CLI11's checks).
TEST(CommandLine, BadValuesNameTheFlag) {
  auto r = RunCommand(std::string(XGATECTL_PATH) + " get routes -o xml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--output: xml not in {json,yaml,wide,name}"));
  r = RunCommand(std::string(XGATE_BENCH_KUBE_PATH) + " --manifests /m --cacert c --port 70000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--port"));
  r = RunCommand(std::string(XGATE_TEST_APISERVER_PATH) + " --dir /tmp/x --listen nowhere");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--listen"));
  r = RunCommand(std::string(XGATE_AGENT_PATH) + " --manifests /m --attach");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--attach"));
}

// The description is git's for the tree that was built ("-dirty" aside: the tree may have
// been touched since), or "unknown" outside a git checkout.
TEST(CommandLine, DescriptionIsGitDescribeOfTheSource) {
  std::string description(GitDescription());
  if (!std::filesystem::exists(std::filesystem::path(XGATE_SOURCE_DIR) / ".git")) {
    EXPECT_EQ(description, "unknown");
    return;
  }
  auto r = RunCommand("git -C " XGATE_SOURCE_DIR " describe --always");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string clean = r.output.substr(0, r.output.find('\n'));
  EXPECT_EQ(description.substr(0, description.find("-dirty")), clean);
}

}  // namespace
}  // namespace xgate
