// YAML documents to nlohmann::json, remembering the source line of every node.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace xgate::model {

// Field path ("spec.rules[0].matches[0]") -> 1-based line of the node in its file.
using LineMap = std::map<std::string, int>;

// The line of `path`, or of its nearest ancestor the map knows; `fallback` when none.
int LineOf(const LineMap& lines, const std::string& path, int fallback);

struct YamlDocument {
  nlohmann::json value;  // null for an empty document
  LineMap lines;
  int first_line = 1;  // 1-based line where the document starts
};

struct YamlSyntaxError {
  int line = 0;  // 1-based
  std::string message;
};

struct YamlFile {
  std::vector<YamlDocument> documents;
  std::vector<YamlSyntaxError> errors;
};

// Parses every document of `text`. When the whole stream does not parse, each document
// (split at "---" lines) is parsed on its own, so one broken document loses only itself.
YamlFile ParseYaml(std::string_view text);

}  // namespace xgate::model
