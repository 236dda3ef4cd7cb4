#include "tools/xgatectl/args.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace xgate::ctl {
namespace {

// Flag spellings -> the field they set.
std::string* FlagTarget(Args& args, const std::string& name) {
  static const std::map<std::string, std::string Args::*> kFlags = {
      {"-f", &Args::file},         {"--filename", &Args::file}, {"-o", &Args::output},
      {"--output", &Args::output}, {"--socket", &Args::socket}, {"--listener", &Args::listener},
      {"--sni", &Args::sni},       {"--host", &Args::host},     {"--method", &Args::method},
      {"--path", &Args::path},     {"--src", &Args::src},       {"--dst", &Args::dst},
      {"--proto", &Args::proto},   {"--limit", &Args::limit},
  };
  auto it = kFlags.find(name);
  return it == kFlags.end() ? nullptr : &(args.*(it->second));
}

}  // namespace

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv) {
  Args args;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      args.command = "help";
      return args;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      std::string name = arg;
      std::string value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      bool header = name == "-H" || name == "--header";
      std::string* target = header ? nullptr : FlagTarget(args, name);
      if (target == nullptr && !header)
        return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
      if (!has_value) {
        if (i + 1 >= argv.size()) {
          return absl::InvalidArgumentError(absl::StrCat("flag ", name, " needs a value"));
        }
        value = argv[++i];
      }
      if (header) {
        args.headers.push_back(value);
      } else {
        *target = value;
      }
      continue;
    }
    if (args.command.empty()) {
      args.command = arg;
    } else {
      args.positional.push_back(arg);
    }
  }
  if (args.command.empty()) return absl::InvalidArgumentError("no command given");
  if (!args.output.empty() && args.output != "json" && args.output != "yaml") {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", args.output, ": the output format is json or yaml"));
  }
  return args;
}

std::string Usage() {
  return "usage: xgatectl [--socket PATH] COMMAND [-o json|yaml]\n"
         "  check -f DIR               load, bind and compile a manifest folder offline;\n"
         "                             exit 0 all accepted, 1 some not, 2 unreadable\n"
         "  get gateways|routes|backends|status   read the agent's state (admin API)\n"
         "  get conntrack [--limit N]  the fast path's connection table (agent with --attach)\n"
         "  get counters               the fast path's counters: per listener, per backend,\n"
         "                             by path and by drop reason (agent with --attach);\n"
         "                             the proxy's: requests by route, backend and code,\n"
         "                             upstream pools, connections, TLS, parse refusals\n"
         "  get pods                   the pod attachments xgate-cni reported, each with its\n"
         "                             host-side interface and fast path state (xg_local_pods)\n"
         "  explain request --listener ADDR:PORT [--sni NAME] [--host H] [--method M]\n"
         "                  [--path P] [-H 'Name: value']...\n"
         "                             the listener, route, rule and backends a request gets\n"
         "  explain packet --src ADDR:PORT --dst ADDR:PORT --proto tcp|udp\n"
         "                             the listener, Maglev slot, conntrack entry and backend\n"
         "                             a packet gets\n"
         "  status                     every object with its status (admin API)\n"
         "  apply -f FILE              add or change manifests in the agent (standalone; kubectl "
         "in Kubernetes mode)\n"
         "  delete -f FILE             remove the objects FILE describes (standalone; kubectl in "
         "Kubernetes mode)\n";
}

}  // namespace xgate::ctl
