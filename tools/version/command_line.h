// What every xgate binary's command line shares (CLI11): --version, and parsing with errors
// that name the flag.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace xgate::cli {

// Exit code of a command line that cannot be parsed.
inline constexpr int kUsageError = 2;

// --version: prints "NAME DESCRIPTION" (the git description baked in at build time), exits 0.
void AddVersionFlag(CLI::App& app);

// Parses argv (argv[0] is the program). nullopt: run. Otherwise the exit code to end with:
// 0 after --help or --version (on stdout), kUsageError after an error, which names the flag
// (on stderr). `-o=VALUE` is read as `-o VALUE`, as kubectl reads it.
std::optional<int> Parse(CLI::App& app, const std::vector<std::string>& argv);
std::optional<int> Parse(CLI::App& app, int argc, const char* const* argv);

// For parsers unit tests call: InvalidArgument with CLI11's message (naming the flag) on a bad
// command line, FailedPrecondition with the text on --help or --version, Ok otherwise.
absl::Status ParseToStatus(CLI::App& app, const std::vector<std::string>& argv);

}  // namespace xgate::cli
