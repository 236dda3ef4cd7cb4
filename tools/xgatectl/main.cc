// xgatectl: inspect and drive an xgate node (`xgatectl --help`); as kubectl-xgate, the kubectl
// plugin `kubectl xgate`.
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tools/version/command_line.h"
#include "tools/xgatectl/args.h"
#include "tools/xgatectl/check.h"
#include "tools/xgatectl/client.h"
#include "tools/xgatectl/completion.h"
#include "tools/xgatectl/inspect.h"
#include "tools/xgatectl/node.h"

int main(int argc, char** argv) {
  using namespace xgate::ctl;
  Args args;
  CLI::App app("", ProgramName(argv[0]));
  AddCommands(app, args);
  if (std::filesystem::path(argv[0]).filename() == "kubectl_complete-xgate") {
    // kubectl's completion of the plugin: the words after `kubectl xgate`, as __complete's.
    Complete(app, std::vector<std::string>(argv + 1, argv + argc), std::cout, ObjectNames);
    return 0;
  }
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  FinishArgs(app, args);
  if (!args.node.empty() && args.command != "check" && args.command != "completion" &&
      args.command != "__complete") {
    return RunOnNode(args, std::vector<std::string>(argv + 1, argv + argc), std::cerr);
  }
  if (args.command == "check") return RunCheck(args, std::cout, std::cerr);
  if (args.command == "get" || args.command == "status") {
    return RunGet(args, std::cout, std::cerr);
  }
  if (args.command == "explain") return RunExplain(args, std::cout, std::cerr);
  if (args.command == "apply") return RunApply(args, std::cout, std::cerr);
  if (args.command == "delete") return RunDelete(args, std::cout, std::cerr);
  if (args.command == "completion") {
    std::cout << BashCompletionScript();
    return 0;
  }
  Complete(app, args.positional, std::cout, ObjectNames);
  return 0;
}
