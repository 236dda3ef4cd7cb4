#include "agent/kube/selectors.h"

#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>

#include <regex>

namespace xgate::kube {

using nlohmann::json;

namespace {

absl::Status BadSelector(const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError("unable to parse requirement: " + why + " in \"" + text + "\"");
}

// Splits at commas outside parentheses.
std::vector<std::string> Terms(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

absl::StatusOr<Selector> Selector::Labels(const std::string& text) {
  static const std::regex set_term(R"(\s*([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*)");
  static const std::regex eq_term(R"(\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*)");
  static const std::regex exists_term(R"(\s*(!?)\s*([\w./-]+)\s*)");
  Selector s;
  for (const std::string& term : Terms(text)) {
    std::smatch m;
    Requirement r;
    if (std::regex_match(term, m, set_term)) {
      r = {m[1], m[2] == "in" ? Op::kIn : Op::kNotIn, {}};
      for (auto v : absl::StrSplit(m[3].str(), ',', absl::SkipWhitespace()))
        r.values.insert(std::string(absl::StripAsciiWhitespace(v)));
    } else if (std::regex_match(term, m, eq_term)) {
      r = {m[1], m[2] == "!=" ? Op::kNotIn : Op::kIn, {m[3]}};
    } else if (std::regex_match(term, m, exists_term)) {
      r = {m[2], m[1].length() ? Op::kNotExists : Op::kExists, {}};
    } else {
      return BadSelector(text, "cannot parse \"" + term + "\"");
    }
    s.requirements_.push_back(std::move(r));
  }
  return s;
}

absl::StatusOr<Selector> Selector::Fields(const std::string& text) {
  static const std::regex eq_term(R"(\s*([\w.]+)\s*(==|=|!=)\s*([^,]*?)\s*)");
  Selector s;
  s.fields_ = true;
  for (const std::string& term : Terms(text)) {
    std::smatch m;
    if (!std::regex_match(term, m, eq_term)) return BadSelector(text, "invalid field selector");
    if (m[1] != "metadata.name" && m[1] != "metadata.namespace") {
      return absl::InvalidArgumentError("\"" + m[1].str() +
                                        "\" is not a known field selector: only "
                                        "\"metadata.name\", \"metadata.namespace\"");
    }
    s.requirements_.push_back({m[1], m[2] == "!=" ? Op::kNotIn : Op::kIn, {m[3]}});
  }
  return s;
}

bool Selector::Matches(const json& object) const {
  if (requirements_.empty()) return true;
  static const json kNoMetadata = json::object();
  auto found = object.is_object() ? object.find("metadata") : object.end();
  const json& meta = object.is_object() && found != object.end() && found->is_object()
                         ? *found
                         : kNoMetadata;  // not copied: kubectl's annotations can be large
  for (const Requirement& r : requirements_) {
    std::optional<std::string> value;
    if (fields_) {
      value = meta.value(r.key.substr(std::string("metadata.").size()), "");
    } else if (meta.contains("labels") && meta["labels"].contains(r.key)) {
      value = meta["labels"][r.key].get<std::string>();
    }
    bool ok = false;
    switch (r.op) {
      case Op::kIn:
        ok = value && r.values.count(*value);
        break;
      case Op::kNotIn:
        ok = !value || !r.values.count(*value);
        break;
      case Op::kExists:
        ok = value.has_value();
        break;
      case Op::kNotExists:
        ok = !value.has_value();
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace xgate::kube
