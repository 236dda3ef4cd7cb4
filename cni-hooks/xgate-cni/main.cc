// The plugin binary: environment and stdin in, result or CNI error object out, logs on stderr.
#include <iostream>
#include <iterator>

#include "cni-hooks/xgate-cni/agent_client.h"
#include "cni-hooks/xgate-cni/cni_plugin.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "tools/version/command_line.h"

extern char** environ;

int main(int argc, char** argv) {
  // A CNI plugin is driven by CNI_* variables and stdin (CNI_COMMAND=VERSION is CNI's version
  // query); the command line has only --help and --version, for people.
  CLI::App app(
      "xgate's CNI plugin: chained after the main plugin, it records each pod's interface and "
      "reports it to the agent. Driven by CNI_COMMAND (ADD, DEL, CHECK, STATUS, GC, VERSION), "
      "the other CNI_* variables and the network configuration on stdin; prints the CNI result.",
      "xgate-cni");
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  // stdout carries the CNI result only.
  spdlog::set_default_logger(spdlog::stderr_logger_st("xgate-cni"));
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (kv.rfind("CNI_", 0) == 0 && eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  std::string input(std::istreambuf_iterator<char>(std::cin), {});
  xgate::cni::Outcome out = xgate::cni::RunPlugin(env, input, xgate::cni::ReportToAgent);
  std::cout << out.stdout_text << std::flush;
  return out.exit_code;
}
