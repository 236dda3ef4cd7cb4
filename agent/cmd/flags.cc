#include "agent/cmd/flags.h"

#include "absl/strings/str_cat.h"

namespace xgate::agent {

absl::StatusOr<AgentFlags> ParseAgentFlags(const std::vector<std::string>& argv) {
  AgentFlags flags;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string name = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "-h" || name == "--help") {
      flags.help = true;
      return flags;
    }
    if (name == "--detach-on-exit") {
      if (has_value) return absl::InvalidArgumentError("--detach-on-exit takes no value");
      flags.detach_on_exit = true;
      continue;
    }
    std::string* target = nullptr;
    if (name == "--manifests") target = &flags.manifests;
    if (name == "--pin-root") target = &flags.pin_root;
    if (name == "--admin-socket") target = &flags.admin_socket;
    if (name == "--metrics-addr") target = &flags.metrics_addr;
    std::string attach;
    if (name == "--attach") target = &attach;
    if (target == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = argv[++i];
    }
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    *target = value;
    if (name == "--attach") flags.attach.push_back(attach);
  }
  if (flags.manifests.empty()) return absl::InvalidArgumentError("--manifests DIR is required");
  return flags;
}

std::string AgentUsage() {
  return "usage: xgate-agent --manifests DIR [--attach IFACE]... [--pin-root DIR]\n"
         "                   [--admin-socket PATH] [--metrics-addr HOST:PORT] "
         "[--detach-on-exit]\n";
}

}  // namespace xgate::agent
