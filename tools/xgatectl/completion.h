// Shell completion for xgatectl: `xgatectl completion bash` prints a script that asks
// `xgatectl __complete WORDS...` for the candidates; kubectl asks the same of the plugin through
// `kubectl_complete-xgate __complete WORDS...`. The answer is cobra's (kubectl's) format: one
// candidate a line, then ":DIRECTIVE" (4: no file names, 0: file names too).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tools/xgatectl/args.h"

namespace CLI {
class App;
}

namespace xgate::ctl {

// The names of the objects `args` (a `get TYPE` command line) would show, from the running
// agent; none when it cannot be asked.
using NameLister = std::function<std::vector<std::string>(const Args& args)>;

// `words` are the command line after the program name; the last is the word being completed
// ("" at a new word). After `get gateways|routes`, the candidates are `names`'s.
void Complete(const CLI::App& app, const std::vector<std::string>& words, std::ostream& out,
              const NameLister& names = nullptr);

std::string BashCompletionScript();

}  // namespace xgate::ctl
