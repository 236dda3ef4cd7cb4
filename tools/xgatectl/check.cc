#include "tools/xgatectl/check.h"

#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/model/loader.h"
#include "agent/status/status.h"

namespace xgate::ctl {
namespace {

// Every object of ours accepted with its references resolved. Programmed is left out:
// offline there are no node addresses, so a Gateway without spec.addresses cannot be.
bool AcceptedOffline(const binder::Statuses& statuses) {
  auto ok = [](const std::vector<model::Condition>& conditions) {
    for (const auto& c : conditions) {
      if (c.type == "Programmed") continue;
      bool negative = c.type == "Conflicted";
      if ((c.status == "True") == negative || c.reason == "ListenersNotValid") return false;
    }
    return true;
  };
  for (const auto& [key, s] : statuses.gateway_classes) {
    if (!ok(s.conditions)) return false;
  }
  for (const auto& [key, s] : statuses.gateways) {
    if (!ok(s.conditions)) return false;
    for (const auto& l : s.listeners) {
      if (!ok(l.conditions)) return false;
    }
  }
  for (const auto& [key, s] : statuses.listener_sets) {
    if (!ok(s.conditions)) return false;
    for (const auto& l : s.listeners) {
      if (!ok(l.conditions)) return false;
    }
  }
  for (const auto& [key, s] : statuses.routes) {
    for (const auto& p : s->parents) {
      if (!ok(p.conditions)) return false;
    }
  }
  return true;
}

}  // namespace

int RunCheck(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.file.empty()) {
    err << "xgatectl check: -f DIR is required\n";
    return kUnreadable;
  }
  auto loaded = model::LoadDirectory(args.file);
  if (!loaded.ok()) {
    err << "xgatectl check: " << args.file << ": " << loaded.status().message() << "\n";
    return kUnreadable;
  }
  for (const auto& e : loaded->errors) err << e.ToString() << "\n";

  binder::BindOptions options;
  options.now = status::NowRfc3339();
  options.max_gateway_listeners = args.max_gateway_listeners;
  binder::BindResult bound = binder::Bind(loaded->store, options);
  auto snapshot = compiler::Compile(bound, 1);

  if (args.output == "json") {
    out << status::ObjectList(loaded->store, bound.statuses).dump(2) << "\n";
  } else if (args.output == "yaml") {
    out << status::ToYaml(status::ObjectList(loaded->store, bound.statuses));
  } else {
    // Load errors went to stderr already.
    out << status::Summary(loaded->store, bound, {});
    std::vector<std::string> lines = snapshot->Summary();
    out << "Snapshot:" << (lines.empty() ? " empty (no listener is programmed)" : "") << "\n";
    for (const auto& line : lines) out << "  " << line << "\n";
  }
  bool ok = AcceptedOffline(bound.statuses) && loaded->errors.empty();
  return ok ? kAllAccepted : kNotAccepted;
}

}  // namespace xgate::ctl
