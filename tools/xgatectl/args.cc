#include "tools/xgatectl/args.h"

#include <filesystem>

#include "tools/version/command_line.h"

namespace xgate::ctl {
namespace {

// Where the agent is: its socket, and with --node the node whose agent pod runs the command.
void AddSocket(CLI::App* app, Args& args) {
  app->add_option("--socket,-s,--server", args.socket,
                  "The agent's admin socket (unix:// optional; -s/--server as kubectl names "
                  "where it connects)")
      ->type_name("PATH")
      ->capture_default_str();
  app->add_option("--node", args.node,
                  "Run in the xgate-agent pod on NODE (kubectl exec; the pod found by label "
                  "app.kubernetes.io/name=xgate-agent and spec.nodeName)")
      ->type_name("NODE");
  app->add_option("--kubeconfig", args.kubeconfig, "With --node: kubectl's --kubeconfig")
      ->type_name("FILE");
  app->add_option("--context", args.context, "With --node: kubectl's --context")->type_name("NAME");
  app->add_option("--agent-namespace", args.agent_namespace,
                  "With --node: where the xgate-agent pods run")
      ->type_name("NS")
      ->capture_default_str();
}

void AddOutput(CLI::App* app, Args& args, std::vector<std::string> formats) {
  std::string names;
  for (const auto& f : formats) names += (names.empty() ? "" : "|") + f;
  app->add_option("-o,--output", args.output, "Output format: " + names + " (default: a table)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember(formats));
}

void AddFile(CLI::App* app, Args& args, const std::string& what) {
  app->add_option("-f,--filename", args.file, what)->type_name(what == "DIR" ? "DIR" : "FILE");
}

void AddGet(CLI::App& app, Args& args) {
  CLI::App* get = app.add_subcommand("get", "Read the agent's state (admin API), as kubectl get");
  std::vector<std::string> resources = GetResources();
  for (const char* singular : {"gateway", "route", "backend", "pod"}) resources.push_back(singular);
  get->add_option("TYPE", args.resource,
                  "gateways|routes (NAME, -l, -n, -o wide), backends, status, conntrack "
                  "(--limit), counters, pods (xgate-cni's attachments and their fast path "
                  "state)")
      ->required()
      ->check(CLI::IsMember(resources));
  get->add_option("NAME", args.name, "Only the gateways or routes of this name");
  get->add_option("-l,--selector", args.selector,
                  "Label selector (=, ==, !=, in, notin, KEY, !KEY), on metadata.labels")
      ->type_name("SELECTOR");
  get->add_option("-n,--namespace", args.ns, "Only this namespace (default: every namespace)")
      ->type_name("NS");
  get->add_flag("-A,--all-namespaces", args.all_namespaces, "Every namespace (the default)");
  get->add_flag("--no-headers", args.no_headers, "Tables without their header row");
  get->add_option("--limit", args.limit, "get conntrack: at most N entries")->type_name("N");
  AddOutput(get, args, {"json", "yaml", "wide", "name"});
  AddSocket(get, args);
}

void AddExplain(CLI::App& app, Args& args) {
  CLI::App* explain =
      app.add_subcommand("explain", "Which listener, route and backend a request or packet gets");
  explain->require_subcommand(1);
  CLI::App* request = explain->add_subcommand(
      "request", "The listener, route, rule and backends an HTTP request gets");
  request->add_option("--listener", args.listener, "Where the request arrives (required)")
      ->type_name("ADDR:PORT");
  request->add_option("--sni", args.sni, "The TLS server name")->type_name("NAME");
  request->add_option("--host", args.host, "The Host header")->type_name("H");
  request->add_option("--method", args.method, "The method (default GET)")->type_name("M");
  request->add_option("--path", args.path, "The path (default /)")->type_name("P");
  request->add_option("-H,--header", args.headers, "A header, repeatable")
      ->type_name("'NAME: VALUE'")
      ->allow_extra_args(false);
  CLI::App* packet = explain->add_subcommand(
      "packet", "The listener, Maglev slot, conntrack entry and backend a packet gets");
  packet->add_option("--src", args.src, "The client (required)")->type_name("ADDR:PORT");
  packet->add_option("--dst", args.dst, "The gateway address (required)")->type_name("ADDR:PORT");
  packet->add_option("--proto", args.proto, "tcp or udp (required)")->type_name("PROTO");
  for (CLI::App* sub : {request, packet}) {
    AddOutput(sub, args, {"json", "yaml"});
    AddSocket(sub, args);
  }
}

}  // namespace

void AddCommands(CLI::App& app, Args& args) {
  app.description("Inspect and drive an xgate node through its agent's admin socket.");
  app.footer(
      "Run with COMMAND --help for a command's flags (xgatectl get --help). As the kubectl "
      "plugin: kubectl xgate COMMAND ...");
  app.require_subcommand(1);
  AddSocket(&app, args);
  AddOutput(&app, args, {"json", "yaml", "wide"});

  CLI::App* check = app.add_subcommand(
      "check",
      "Load, bind and compile a manifest folder offline; exit 0 all accepted, 1 some not, "
      "2 unreadable");
  AddFile(check, args, "DIR");
  AddOutput(check, args, {"json", "yaml"});
  check
      ->add_option("--max-gateway-listeners", args.max_gateway_listeners,
                   "As xgate-agent's: a Gateway's listeners with its ListenerSets' entries, the "
                   "entries beyond refused (TooManyListeners)")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  AddGet(app, args);

  CLI::App* status = app.add_subcommand("status", "Every object with its status (admin API)");
  AddOutput(status, args, {"json", "yaml"});
  AddSocket(status, args);

  AddExplain(app, args);

  CLI::App* apply = app.add_subcommand(
      "apply", "Add or change manifests in the agent (standalone; kubectl in Kubernetes mode)");
  CLI::App* del = app.add_subcommand(
      "delete", "Remove the objects FILE describes (standalone; kubectl in Kubernetes mode)");
  for (CLI::App* sub : {apply, del}) {
    AddFile(sub, args, "FILE (- reads stdin)");
    AddSocket(sub, args);
  }

  CLI::App* completion =
      app.add_subcommand("completion", "Print the shell completion script (source it in bash)");
  completion->add_option("SHELL", args.resource, "bash")
      ->required()
      ->check(CLI::IsMember({"bash"}));

  // What the completion script (and kubectl, through kubectl_complete-xgate) calls: the words
  // so far, the candidates for the last one.
  CLI::App* complete = app.add_subcommand("__complete", "")->group("");
  complete->prefix_command();
  cli::AddVersionFlag(app);
}

void FinishArgs(const CLI::App& app, Args& args) {
  for (const CLI::App* sub : app.get_subcommands()) {
    args.command = sub->get_name();
    if (args.command == "get") args.positional = {args.resource};
    if (args.command == "get" && !args.name.empty()) args.positional.push_back(args.name);
    if (args.command == "completion") args.positional = {args.resource};
    if (args.command == "__complete") args.positional = sub->remaining();
    for (const CLI::App* leaf : sub->get_subcommands()) args.positional.push_back(leaf->get_name());
  }
  if (args.output == "wide") {
    args.wide = true;
    args.output.clear();
  }
  if (args.all_namespaces) args.ns.clear();
  for (const char* scheme : {"unix://", "unix:"}) {
    if (args.socket.rfind(scheme, 0) == 0) args.socket = args.socket.substr(strlen(scheme));
  }
}

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv) {
  Args args;
  CLI::App app("", "xgatectl");
  AddCommands(app, args);
  if (absl::Status s = cli::ParseToStatus(app, argv); !s.ok()) return s;
  FinishArgs(app, args);
  return args;
}

std::string ProgramName(const std::string& argv0) {
  std::string base = std::filesystem::path(argv0).filename().string();
  return base == "kubectl-xgate" ? "kubectl xgate" : "xgatectl";
}

}  // namespace xgate::ctl
