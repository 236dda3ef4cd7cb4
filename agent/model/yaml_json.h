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
  LineMap lines;         // empty when parsed without lines
  int first_line = 1;    // 1-based line where the document starts
  // Where the document is in the text: bytes [begin, end) from the start of its first line,
  // and the lines before it (so DocumentLines can parse it again).
  size_t begin = 0;
  size_t end = 0;
  int line_offset = 0;
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
// Without lines, no LineMap is built (a third of the time): DocumentLines gives one
// document's when an error needs it.
YamlFile ParseYaml(std::string_view text, bool with_lines = true);
// The lines of `doc`, one of the documents ParseYaml found in `text`.
LineMap DocumentLines(std::string_view text, const YamlDocument& doc);

}  // namespace xgate::model
