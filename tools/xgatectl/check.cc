#include "tools/xgatectl/check.h"

#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/model/loader.h"
#include "agent/status/status.h"

namespace xgate::ctl {

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
  binder::BindResult bound = binder::Bind(loaded->store, options);
  auto snapshot = compiler::Compile(bound, 1);

  if (args.output == "json") {
    out << status::ObjectList(loaded->store, bound.statuses).dump(2) << "\n";
  } else if (args.output == "yaml") {
    out << status::ToYaml(status::ObjectList(loaded->store, bound.statuses));
  } else {
    // Load errors went to stderr already.
    out << status::Summary(loaded->store, bound, {});
    out << "Snapshot:\n";
    for (const auto& line : snapshot->Summary()) out << "  " << line << "\n";
  }
  bool ok = binder::AllAccepted(bound) && loaded->errors.empty();
  return ok ? kAllAccepted : kNotAccepted;
}

}  // namespace xgate::ctl
