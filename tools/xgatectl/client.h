// xgatectl's admin API commands: get, status, apply, delete (over --socket).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tools/xgatectl/args.h"

namespace xgate::ctl {

// `get gateways|routes|backends|status`, `status`: 0 on success, 1 when the agent cannot be
// reached or refuses, 2 on a usage error.
int RunGet(const Args& args, std::ostream& out, std::ostream& err);
// `apply -f FILE` and `delete -f FILE` ("-" reads stdin).
int RunApply(const Args& args, std::ostream& out, std::ostream& err);
int RunDelete(const Args& args, std::ostream& out, std::ostream& err);
// The names `get gateways|routes` with `args` shows (-n, -l), sorted, for completion; none
// when the agent does not answer within a second or TYPE is another.
std::vector<std::string> ObjectNames(const Args& args);

}  // namespace xgate::ctl
