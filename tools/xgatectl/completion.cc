#include "tools/xgatectl/completion.h"

#include <CLI/CLI.hpp>
#include <map>

#include "tools/xgatectl/args.h"

namespace xgate::ctl {
namespace {

constexpr int kNoFileComp = 4;  // cobra's ShellCompDirectiveNoFileComp
constexpr int kDefault = 0;     // the shell's own (file names)

const CLI::App* Subcommand(const CLI::App* app, const std::string& name) {
  auto found = app->get_subcommands(
      [&](const CLI::App* s) { return s->get_name() == name && !s->get_group().empty(); });
  return found.empty() ? nullptr : found.front();
}

// The values an option takes, when there are few; empty: a file name or free text.
std::vector<std::string> OptionValues(const CLI::Option& option, const std::string& command) {
  if (option.check_lname("output")) {
    std::vector<std::string> formats = {"json", "yaml"};
    if (command == "get" || command.empty()) formats.insert(formats.end(), {"wide", "name"});
    return formats;
  }
  if (option.check_lname("proto")) return {"tcp", "udp"};
  return {};
}

bool TakesFile(const CLI::Option& option) {
  return option.check_lname("filename") || option.check_lname("socket");
}

// The agent's names for `get gateways|routes <TAB>`, with the flags typed so far (-s, -n, -l).
std::vector<std::string> ObjectNames(const std::vector<std::string>& words,
                                     const NameLister& names) {
  if (!names) return {};
  std::vector<std::string> argv = {"xgatectl"};
  argv.insert(argv.end(), words.begin(), words.end() - 1);
  auto args = ParseArgs(argv);
  if (!args.ok() || !args->name.empty()) return {};
  return names(*args);
}

}  // namespace

void Complete(const CLI::App& app, const std::vector<std::string>& words, std::ostream& out,
              const NameLister& names) {
  std::string current = words.empty() ? "" : words.back();
  const CLI::App* at = &app;
  std::string command;
  size_t positionals = 0;
  const CLI::Option* wants_value = nullptr;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (wants_value != nullptr) {
      wants_value = nullptr;
      continue;
    }
    if (w.size() > 1 && w[0] == '-') {
      const CLI::Option* option = at->get_option_no_throw(w.substr(0, w.find('=')));
      if (option && option->get_expected_min() > 0 && w.find('=') == std::string::npos) {
        wants_value = option;
      }
      continue;
    }
    if (const CLI::App* sub = Subcommand(at, w); sub && positionals == 0) {
      at = sub;
      if (command.empty()) command = w;
      continue;
    }
    ++positionals;
  }
  std::vector<std::string> candidates;
  int directive = kNoFileComp;
  if (wants_value != nullptr) {
    candidates = OptionValues(*wants_value, command);
    if (candidates.empty() && TakesFile(*wants_value)) directive = kDefault;
  } else if (!current.empty() && current[0] == '-') {
    for (const CLI::Option* o : at->get_options()) {
      for (const auto& l : o->get_lnames()) candidates.push_back("--" + l);
      for (const auto& s : o->get_snames()) candidates.push_back("-" + s);
    }
  } else if (command == "get" && positionals == 0) {
    candidates = GetResources();
  } else if (command == "get" && positionals == 1) {
    candidates = ObjectNames(words, names);
  } else if (command == "completion" && positionals == 0) {
    candidates = {"bash"};
  } else if (positionals == 0) {
    for (const CLI::App* s :
         at->get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
      candidates.push_back(s->get_name());
    }
  }
  for (const std::string& c : candidates) {
    if (c.rfind(current, 0) == 0) out << c << "\n";
  }
  out << ":" << directive << "\n";
}

std::string BashCompletionScript() {
  return R"(# bash completion for xgatectl (and kubectl-xgate): source <(xgatectl completion bash)
_xgatectl() {
  local cur=${COMP_WORDS[COMP_CWORD]} out directive
  out=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) ||
    return
  directive=${out##*:}
  out=${out%:*}
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  if [[ ${#COMPREPLY[@]} -eq 0 && $directive == 0 ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _xgatectl xgatectl kubectl-xgate
)";
}

}  // namespace xgate::ctl
