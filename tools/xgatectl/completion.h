// Shell completion for xgatectl: `xgatectl completion bash` prints a script that asks
// `xgatectl __complete WORDS...` for the candidates; kubectl asks the same of the plugin through
// `kubectl_complete-xgate __complete WORDS...`. The answer is cobra's (kubectl's) format: one
// candidate a line, then ":DIRECTIVE" (4: no file names, 0: file names too).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace xgate::ctl {

// `words` are the command line after the program name; the last is the word being completed
// ("" at a new word).
void Complete(const CLI::App& app, const std::vector<std::string>& words, std::ostream& out);

std::string BashCompletionScript();

}  // namespace xgate::ctl
