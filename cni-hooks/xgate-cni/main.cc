// The plugin binary: environment and stdin in, result or error JSON out (CNI spec 1.0).
#include <iostream>
#include <iterator>

#include "cni-hooks/xgate-cni/cni_plugin.h"

extern char** environ;

int main() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (kv.rfind("CNI_", 0) == 0 && eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  std::string input;
  if (env["CNI_COMMAND"] != "VERSION") {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  xgate::cni::Outcome out = xgate::cni::RunPlugin(env, input);
  std::cout << out.stdout_text << std::flush;
  return out.exit_code;
}
