// `xgatectl check -f DIR`: the offline load -> bind -> compile of a manifest folder.
#pragma once

#include <ostream>

#include "tools/xgatectl/args.h"

namespace xgate::ctl {

// Exit codes of `check`.
inline constexpr int kAllAccepted = 0;
inline constexpr int kNotAccepted = 1;
inline constexpr int kUnreadable = 2;

// Prints every object with its status (the List as JSON or YAML, or the readable summary)
// to `out` and each load error to `err`; returns the exit code.
int RunCheck(const Args& args, std::ostream& out, std::ostream& err);

}  // namespace xgate::ctl
