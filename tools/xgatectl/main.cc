// xgatectl: inspect and drive an xgate node (see Usage()).
#include <iostream>
#include <string>
#include <vector>

#include "tools/xgatectl/args.h"
#include "tools/xgatectl/check.h"
#include "tools/xgatectl/client.h"
#include "tools/xgatectl/inspect.h"

int main(int argc, char** argv) {
  using namespace xgate::ctl;
  auto args = ParseArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    std::cerr << "xgatectl: " << args.status().message() << "\n" << Usage();
    return kUnreadable;
  }
  if (args->command == "help") {
    std::cout << Usage();
    return 0;
  }
  if (args->command == "check") return RunCheck(*args, std::cout, std::cerr);
  if (args->command == "get" || args->command == "status") {
    return RunGet(*args, std::cout, std::cerr);
  }
  if (args->command == "explain") return RunExplain(*args, std::cout, std::cerr);
  if (args->command == "apply") return RunApply(*args, std::cout, std::cerr);
  if (args->command == "delete") return RunDelete(*args, std::cout, std::cerr);
  std::cerr << "xgatectl: unknown command " << args->command << "\n" << Usage();
  return kUnreadable;
}
