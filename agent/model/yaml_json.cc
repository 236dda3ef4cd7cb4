#include "agent/model/yaml_json.h"

#include <yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace xgate::model {
namespace {

constexpr int kMaxDepth = 64;
// Aliases can make a small text expand enormously ("billion laughs"); refuse beyond this.
constexpr size_t kMaxNodes = 200000;

struct TooComplex : std::runtime_error {
  int line;
  TooComplex(const std::string& what, int l) : std::runtime_error(what), line(l) {}
};

// A plain scalar as the YAML 1.2 core schema types it.
nlohmann::json PlainScalar(std::string&& s) {
  // Most scalars are names: a letter no null, boolean or number of the core schema starts with.
  if (!s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) &&
      std::string_view("nNtTfF").find(s[0]) == std::string_view::npos) {
    return std::move(s);
  }
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
  return std::move(s);
}

bool IsCoreTag(const char* tag) {
  static constexpr std::string_view kTypes[] = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:bool",
                                                "tag:yaml.org,2002:null",
                                                "tag:yaml.org,2002:float"};
  return std::find(std::begin(kTypes), std::end(kTypes), std::string_view(tag)) != std::end(kTypes);
}

// libyaml's events, one at a time, freed as the next one is read.
class Events {
 public:
  explicit Events(std::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Events() {
    if (have_) yaml_event_delete(&event_);
    yaml_parser_delete(&parser_);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  // The next event; false on a syntax error (then error() says what and where).
  bool Next() {
    if (have_) yaml_event_delete(&event_);
    have_ = yaml_parser_parse(&parser_, &event_) == 1;
    return have_;
  }
  const yaml_event_t& event() const { return event_; }
  const yaml_parser_t& parser() const { return parser_; }

 private:
  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool have_ = false;
};

struct SyntaxError {
  int line;
  std::string message;
};

// Builds one document's JSON from the events of its root node on.
class Converter {
 public:
  // `lines` null: no line map (and no field paths) is built.
  Converter(Events& events, LineMap* lines, int offset)
      : events_(events), lines_(lines), offset_(offset) {}

  // Converts the node whose first event is current; on return its last event is current.
  nlohmann::json Convert(const std::string& path, int depth) {
    const yaml_event_t& e = events_.event();
    int line = Line(e.start_mark);
    if (lines_ != nullptr) lines_->emplace(path, line);
    if (depth > kMaxDepth) throw TooComplex("nesting deeper than 64 levels", line);
    if (++nodes_ > kMaxNodes) throw TooComplex("document too large (alias expansion?)", line);
    switch (e.type) {
      case YAML_SCALAR_EVENT: {
        const auto& s = e.data.scalar;
        std::string value(reinterpret_cast<const char*>(s.value), s.length);
        const char* tag = reinterpret_cast<const char*>(s.tag);
        nlohmann::json out = (tag == nullptr && s.style == YAML_PLAIN_SCALAR_STYLE) ||
                                     (tag != nullptr && IsCoreTag(tag))
                                 ? PlainScalar(std::move(value))
                                 : nlohmann::json(std::move(value));
        Anchor(s.anchor, out, 1);
        return out;
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(e.data.alias.anchor));
        if (it == anchors_.end()) throw TooComplex("unknown alias", line);
        nodes_ += it->second.nodes;
        if (nodes_ > kMaxNodes) throw TooComplex("document too large (alias expansion?)", line);
        return it->second.value;
      }
      case YAML_SEQUENCE_START_EVENT: {
        std::string anchor = AnchorName(e.data.sequence_start.anchor);
        size_t first = nodes_;
        nlohmann::json out = nlohmann::json::array();
        for (size_t i = 0; NextOrThrow().type != YAML_SEQUENCE_END_EVENT; ++i) {
          out.push_back(Convert(lines_ ? absl::StrCat(path, "[", i, "]") : "", depth + 1));
        }
        Anchor(anchor, out, nodes_ - first);
        return out;
      }
      case YAML_MAPPING_START_EVENT: {
        std::string anchor = AnchorName(e.data.mapping_start.anchor);
        size_t first = nodes_;
        nlohmann::json out = nlohmann::json::object();
        while (NextOrThrow().type != YAML_MAPPING_END_EVENT) {
          const yaml_event_t& k = events_.event();
          if (k.type != YAML_SCALAR_EVENT) {
            throw TooComplex("mapping keys must be scalars", Line(k.start_mark));
          }
          std::string key(reinterpret_cast<const char*>(k.data.scalar.value), k.data.scalar.length);
          std::string child;
          if (lines_ != nullptr) {
            child = path.empty() ? key : absl::StrCat(path, ".", key);
            (*lines_)[child] = Line(k.start_mark);
          }
          NextOrThrow();
          out[std::move(key)] = Convert(child, depth + 1);
        }
        Anchor(anchor, out, nodes_ - first);
        return out;
      }
      default:
        throw TooComplex("unexpected YAML event", line);
    }
  }

 private:
  int Line(const yaml_mark_t& mark) const { return static_cast<int>(mark.line) + 1 + offset_; }

  const yaml_event_t& NextOrThrow() {
    if (!events_.Next()) throw Syntax(events_.parser(), offset_);
    return events_.event();
  }

  static std::string AnchorName(const yaml_char_t* anchor) {
    return anchor == nullptr ? "" : reinterpret_cast<const char*>(anchor);
  }
  void Anchor(const yaml_char_t* anchor, const nlohmann::json& value, size_t nodes) {
    if (anchor != nullptr) Anchor(AnchorName(anchor), value, nodes);
  }
  void Anchor(const std::string& anchor, const nlohmann::json& value, size_t nodes) {
    if (!anchor.empty()) anchors_[anchor] = {value, nodes};
  }

 public:
  static SyntaxError Syntax(const yaml_parser_t& p, int offset) {
    std::string message = p.problem != nullptr ? p.problem : "invalid YAML";
    if (p.context != nullptr) message = absl::StrCat(message, " ", p.context);
    return {static_cast<int>(p.problem_mark.line) + 1 + offset, message};
  }

 private:
  struct Anchored {
    nlohmann::json value;
    size_t nodes = 0;
  };
  Events& events_;
  LineMap* lines_;
  int offset_;
  size_t nodes_ = 0;
  std::map<std::string, Anchored> anchors_;
};

bool IsDocumentMarker(std::string_view line) {
  if (line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Skips the rest of the current document, up to its end event.
void SkipDocument(Events& events, int offset) {
  while (events.event().type != YAML_DOCUMENT_END_EVENT) {
    if (!events.Next()) throw Converter::Syntax(events.parser(), offset);
  }
}

// Parses one chunk of text (one or more documents) whose first line is `offset`+1 and
// first byte `base` of the file. Returns false on a syntax error (recorded in `out`).
bool ParseChunk(std::string_view text, int offset, size_t base, bool with_lines, YamlFile& out) {
  Events events(text);
  try {
    while (true) {
      if (!events.Next()) throw Converter::Syntax(events.parser(), offset);
      yaml_event_type_t type = events.event().type;
      if (type == YAML_STREAM_END_EVENT) return true;
      if (type != YAML_DOCUMENT_START_EVENT) continue;
      YamlDocument doc;
      const yaml_mark_t& start = events.event().start_mark;
      doc.begin = base + start.index - start.column;
      doc.line_offset = static_cast<int>(start.line) + offset;
      if (!events.Next()) throw Converter::Syntax(events.parser(), offset);
      doc.first_line = std::max(1, static_cast<int>(events.event().start_mark.line) + 1 + offset);
      bool complete = true;
      try {
        doc.value = Converter(events, with_lines ? &doc.lines : nullptr, offset).Convert("", 0);
      } catch (const TooComplex& e) {
        out.errors.push_back({e.line > 0 ? e.line : doc.first_line, e.what()});
        complete = false;
      }
      if (!events.Next()) throw Converter::Syntax(events.parser(), offset);
      SkipDocument(events, offset);
      doc.end = base + events.event().end_mark.index;
      if (complete) out.documents.push_back(std::move(doc));
    }
  } catch (const SyntaxError& e) {
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
    out.errors.push_back({e.line > last ? last : e.line, e.message});
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

namespace {

// A stream this large (10,000 HTTPRoutes with their Services and EndpointSlices in one file
// are ~6 MB) is parsed in pieces on several threads, each piece a run of whole documents
// cut at a document marker. A marker at the start of a line ends any block scalar, so a cut
// there is where the stream's own parse would end a document.
constexpr size_t kPieceBytes = size_t{1} << 20;

bool ParseInPieces(std::string_view text, bool with_lines, YamlFile& out) {
  const size_t threads = std::min<size_t>(
      {std::max(1u, std::thread::hardware_concurrency()), 8, text.size() / kPieceBytes});
  if (threads < 2) return false;
  std::vector<std::pair<size_t, int>> starts{{0, 0}};  // byte offset, line index
  const size_t step = text.size() / threads;
  int line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (pos >= starts.back().first + step && starts.size() < threads &&
        IsDocumentMarker(text.substr(pos, end - pos))) {
      starts.push_back({pos, line});
    }
    ++line;
    pos = end + 1;
  }
  std::vector<YamlFile> pieces(starts.size());
  std::vector<char> parsed(starts.size(), 0);
  auto parse = [&](size_t i) {
    size_t from = starts[i].first;
    size_t to = i + 1 < starts.size() ? starts[i + 1].first : text.size();
    parsed[i] =
        ParseChunk(text.substr(from, to - from), starts[i].second, from, with_lines, pieces[i]);
  };
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < starts.size(); ++i) helpers.emplace_back(parse, i);
  parse(0);
  for (auto& h : helpers) h.join();
  if (std::find(parsed.begin(), parsed.end(), 0) != parsed.end()) return false;
  for (YamlFile& piece : pieces) {
    std::move(piece.documents.begin(), piece.documents.end(), std::back_inserter(out.documents));
    std::move(piece.errors.begin(), piece.errors.end(), std::back_inserter(out.errors));
  }
  return true;
}

}  // namespace

YamlFile ParseYaml(std::string_view text, bool with_lines) {
  YamlFile whole;
  if (ParseInPieces(text, with_lines, whole)) return whole;
  whole = YamlFile();
  if (ParseChunk(text, 0, 0, with_lines, whole)) return whole;

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
    ParseChunk(text.substr(from, to - from), starts[i].second, from, with_lines, out);
  }
  if (out.errors.empty()) return whole;  // cannot happen in practice; keep the first report
  return out;
}

LineMap DocumentLines(std::string_view text, const YamlDocument& doc) {
  YamlFile again;
  ParseChunk(text.substr(doc.begin, doc.end - doc.begin), doc.line_offset, doc.begin, true, again);
  return again.documents.empty() ? LineMap{} : std::move(again.documents.front().lines);
}

}  // namespace xgate::model
