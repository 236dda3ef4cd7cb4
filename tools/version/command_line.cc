#include "tools/version/command_line.h"

#include <cctype>
#include <iostream>
#include <sstream>

#include "tools/version/version.h"

namespace xgate::cli {
namespace {

// "-o=yaml" -> "-o", "yaml" (CLI11 would read the value as "=yaml").
std::vector<std::string> SplitShortEquals(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (i > 0 && a.size() > 3 && a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1])) &&
        a[2] == '=') {
      out.push_back(a.substr(0, 2));
      out.push_back(a.substr(3));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

// What `app` and its subcommands require (options; a subcommand: option nullptr), made
// optional: CLI11 checks it before it looks for flags it does not know, and "--dir is
// required" would hide "--dri: not expected". ParseVector checks it itself, after.
std::vector<std::pair<CLI::App*, CLI::Option*>> TakeRequired(CLI::App& app) {
  std::vector<std::pair<CLI::App*, CLI::Option*>> out;
  if (app.get_require_subcommand_min() > 0) {
    app.require_subcommand(0, app.get_require_subcommand_max());
    out.emplace_back(&app, nullptr);
  }
  for (CLI::Option* o : app.get_options()) {
    if (o->get_required()) {
      o->required(false);
      out.emplace_back(&app, o);
    }
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    auto more = TakeRequired(*sub);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

void ParseVector(CLI::App& app, const std::vector<std::string>& argv) {
  std::vector<std::string> args = SplitShortEquals(argv);
  std::vector<const char*> pointers;
  for (const auto& a : args) pointers.push_back(a.c_str());
  auto required = TakeRequired(app);
  app.parse(static_cast<int>(pointers.size()), pointers.data());
  for (auto [owner, option] : required) {
    if (owner != &app && !owner->parsed()) continue;
    if (option == nullptr && owner->get_subcommands().empty()) {
      // Names the choices: "explain: one of request or packet is required".
      std::string choices;
      auto subs = owner->get_subcommands([](CLI::App* s) { return !s->get_group().empty(); });
      for (size_t i = 0; i < subs.size(); ++i) {
        if (i > 0) choices += i + 1 == subs.size() ? " or " : ", ";
        choices += subs[i]->get_name();
      }
      throw CLI::RequiredError(owner->get_name() + ": one of " + choices);
    }
    if (option != nullptr && option->count() == 0) throw CLI::RequiredError(option->get_name());
  }
}

}  // namespace

void AddVersionFlag(CLI::App& app) {
  app.set_version_flag("--version", app.get_name() + " " + std::string(GitDescription()),
                       "Print the version (git describe of the build) and exit");
}

std::optional<int> Parse(CLI::App& app, const std::vector<std::string>& argv) {
  try {
    ParseVector(app, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\nRun '" << app.get_name()
              << " --help' for the flags.\n";
    return kUsageError;
  }
  return std::nullopt;
}

std::optional<int> Parse(CLI::App& app, int argc, const char* const* argv) {
  return Parse(app, std::vector<std::string>(argv, argv + argc));
}

absl::Status ParseToStatus(CLI::App& app, const std::vector<std::string>& argv) {
  try {
    ParseVector(app, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::ostringstream text;
      app.exit(e, text, text);
      return absl::FailedPreconditionError(text.str());
    }
    return absl::InvalidArgumentError(e.what());
  }
  return absl::OkStatus();
}

}  // namespace xgate::cli
