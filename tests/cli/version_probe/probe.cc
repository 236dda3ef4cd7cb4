// A binary with xgate's --version and nothing else.
#include "tools/version/command_line.h"

int main(int argc, char** argv) {
  CLI::App app("Prints its version", "version_probe");
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  return 0;
}
