#include "agent/model/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace xgate::model {
namespace {

constexpr int kMaxDepth = 64;
// Aliases can make a small text expand enormously ("billion laughs"); refuse beyond this.
constexpr size_t kMaxNodes = 200000;

struct TooComplex : std::runtime_error {
  int line;
  TooComplex(const std::string& what, int l) : std::runtime_error(what), line(l) {}
};

int LineOfMark(const YAML::Mark& mark, int offset) {
  return mark.is_null() ? 0 : mark.line + 1 + offset;
}

// A plain scalar as the YAML 1.2 core schema types it.
nlohmann::json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.c_str();
  char* end = nullptr;
  bool digits_only = s.find_first_not_of("+-0123456789") == std::string::npos;
  if (digits_only) {
    errno = 0;
    long long v = std::strtoll(begin, &end, 10);
    if (errno == 0 && *end == '\0') return static_cast<int64_t>(v);
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    errno = 0;
    long long v = std::strtoll(begin + 2, &end, s[1] == 'x' ? 16 : 8);
    if (errno == 0 && *end == '\0') return static_cast<int64_t>(v);
  }
  if (s.find_first_not_of("+-.0123456789eE") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos) {
    errno = 0;
    double d = std::strtod(begin, &end);
    if (errno == 0 && *end == '\0') return d;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == ".nan" || s == ".NaN") return s;
  return s;
}

nlohmann::json Scalar(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& s = node.Scalar();
  if (tag == "?") return PlainScalar(s);
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:bool" ||
      tag == "tag:yaml.org,2002:null" || tag == "tag:yaml.org,2002:float") {
    return PlainScalar(s);
  }
  return s;  // quoted, !!str, or an unknown tag: a string
}

class Converter {
 public:
  Converter(LineMap& lines, int offset) : lines_(lines), offset_(offset) {}

  nlohmann::json Convert(const YAML::Node& node, const std::string& path, int depth) {
    int line = LineOfMark(node.Mark(), offset_);
    if (line > 0) lines_.emplace(path, line);
    if (depth > kMaxDepth) throw TooComplex("nesting deeper than 64 levels", line);
    if (++nodes_ > kMaxNodes) throw TooComplex("document too large (alias expansion?)", line);
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return Scalar(node);
      case YAML::NodeType::Sequence: {
        nlohmann::json out = nlohmann::json::array();
        size_t i = 0;
        for (const auto& item : node) {
          out.push_back(Convert(item, path + "[" + std::to_string(i++) + "]", depth + 1));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            throw TooComplex("mapping keys must be scalars", LineOfMark(kv.first.Mark(), offset_));
          }
          const std::string& key = kv.first.Scalar();
          std::string child = path.empty() ? key : path + "." + key;
          int key_line = LineOfMark(kv.first.Mark(), offset_);
          if (key_line > 0) lines_[child] = key_line;
          out[key] = Convert(kv.second, child, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  LineMap& lines_;
  int offset_;
  size_t nodes_ = 0;
};

void AddDocument(const YAML::Node& node, int offset, YamlFile& out) {
  YamlDocument doc;
  doc.first_line = std::max(1, LineOfMark(node.Mark(), offset));
  try {
    Converter conv(doc.lines, offset);
    doc.value = conv.Convert(node, "", 0);
  } catch (const TooComplex& e) {
    out.errors.push_back({e.line > 0 ? e.line : doc.first_line, e.what()});
    return;
  }
  out.documents.push_back(std::move(doc));
}

bool IsDocumentMarker(std::string_view line) {
  if (line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Parses one chunk of text (one or more documents) whose first line is `offset`+1.
// Returns false on a syntax error (recorded in `out`).
bool ParseChunk(const std::string& text, int offset, YamlFile& out) {
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(text);
    for (const auto& node : nodes) AddDocument(node, offset, out);
    return true;
  } catch (const YAML::Exception& e) {
    // An unclosed construct is reported where the parser gave up (the next "---" or the end
    // of the text); point at the chunk's last written line instead.
    int last = offset;
    int line = offset;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
      } else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
        last = line + 1;
      }
    }
    int at = LineOfMark(e.mark, offset);
    out.errors.push_back({at > last ? last : at, e.msg});
    return false;
  }
}

}  // namespace

int LineOf(const LineMap& lines, const std::string& path, int fallback) {
  std::string p = path;
  while (true) {
    auto it = lines.find(p);
    if (it != lines.end()) return it->second;
    if (p.empty()) return fallback;
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

YamlFile ParseYaml(std::string_view text) {
  YamlFile whole;
  if (ParseChunk(std::string(text), 0, whole)) return whole;

  // The stream as a whole is broken: parse each document on its own so the good ones load.
  YamlFile out;
  std::vector<std::pair<size_t, int>> starts{{0, 0}};  // byte offset, line index
  int line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (pos > 0 && IsDocumentMarker(text.substr(pos, end - pos))) starts.push_back({pos, line});
    ++line;
    pos = end + 1;
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t from = starts[i].first;
    size_t to = i + 1 < starts.size() ? starts[i + 1].first : text.size();
    ParseChunk(std::string(text.substr(from, to - from)), starts[i].second, out);
  }
  if (out.errors.empty()) return whole;  // cannot happen in practice; keep the first report
  return out;
}

}  // namespace xgate::model
