#include "agent/model/decode_node.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace xgate::model {
namespace {

std::string TypeName(const nlohmann::json& j) {
  if (j.is_object()) return "object";
  if (j.is_array()) return "array";
  if (j.is_string()) return "string";
  if (j.is_boolean()) return "boolean";
  if (j.is_number()) return "number";
  return "null";
}

[[noreturn]] void WrongType(const std::string& path, const nlohmann::json& j, const char* want) {
  throw DecodeError(path, absl::StrCat("Invalid value: must be ", want, ", not ", TypeName(j)));
}

bool Matches(const RE2& re, const std::string& value) { return RE2::FullMatch(value, re); }

void CheckPattern(const std::string& path, const std::string& value, const RE2& re, size_t max_len,
                  const char* what) {
  if (value.empty()) throw DecodeError(path, "Required value: must not be empty");
  CheckLength(path, value, max_len);
  if (!Matches(re, value)) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value, "\": ", what));
  }
}

const RE2& LabelRe() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return re;
}
const RE2& SubdomainRe() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return re;
}

}  // namespace

nlohmann::json* Node::Get(const std::string& key) const {
  if (!j_->is_object()) WrongType(path_, *j_, "an object");
  auto it = j_->find(key);
  if (it == j_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool Node::Has(const std::string& key) const { return Get(key) != nullptr; }

void Node::RequireObject() const {
  if (!j_->is_object()) WrongType(path_, *j_, "an object");
}

std::string Node::AsString() const {
  if (!j_->is_string()) WrongType(path_, *j_, "a string");
  return j_->get<std::string>();
}

Node Node::Child(const std::string& key) const {
  auto c = OptChild(key);
  if (!c) FailAt(key, "Required value");
  return *c;
}

std::optional<Node> Node::OptChild(const std::string& key) const {
  nlohmann::json* j = Get(key);
  if (!j) return std::nullopt;
  if (!j->is_object()) WrongType(PathOf(key), *j, "an object");
  return Node(*j, PathOf(key));
}

Node Node::ChildOrEmpty(const std::string& key) const {
  if (!Has(key)) (*j_)[key] = nlohmann::json::object();
  return Child(key);
}

std::optional<std::string> Node::OptStr(const std::string& key) const {
  nlohmann::json* j = Get(key);
  if (!j) return std::nullopt;
  if (!j->is_string()) WrongType(PathOf(key), *j, "a string");
  return j->get<std::string>();
}

std::string Node::Str(const std::string& key) const {
  auto s = OptStr(key);
  if (!s || s->empty()) FailAt(key, "Required value");
  return *s;
}

std::string Node::StrOr(const std::string& key, const std::string& def) const {
  auto s = OptStr(key);
  if (s) return *s;
  (*j_)[key] = def;
  return def;
}

std::optional<int64_t> Node::OptInt(const std::string& key, int64_t min, int64_t max) const {
  nlohmann::json* j = Get(key);
  if (!j) return std::nullopt;
  if (!j->is_number_integer()) WrongType(PathOf(key), *j, "an integer");
  int64_t v = j->get<int64_t>();
  if (v < min || v > max) {
    FailAt(key, absl::StrCat("Invalid value: ", v, ": must be between ", min, " and ", max));
  }
  return v;
}

int64_t Node::Int(const std::string& key, int64_t min, int64_t max) const {
  auto v = OptInt(key, min, max);
  if (!v) FailAt(key, "Required value");
  return *v;
}

int64_t Node::IntOr(const std::string& key, int64_t def, int64_t min, int64_t max) const {
  auto v = OptInt(key, min, max);
  if (v) return *v;
  (*j_)[key] = def;
  return def;
}

std::optional<bool> Node::OptBool(const std::string& key) const {
  nlohmann::json* j = Get(key);
  if (!j) return std::nullopt;
  if (!j->is_boolean()) WrongType(PathOf(key), *j, "a boolean");
  return j->get<bool>();
}

std::vector<Node> Node::Items(const std::string& key, size_t max_items, size_t min_items,
                              bool objects) const {
  std::vector<Node> out;
  nlohmann::json* j = Get(key);
  if (!j) {
    if (min_items > 0) FailAt(key, "Required value");
    return out;
  }
  if (!j->is_array()) WrongType(PathOf(key), *j, "an array");
  if (j->size() > max_items) {
    FailAt(key, absl::StrCat("Too many: ", j->size(), ": must have at most ", max_items, " items"));
  }
  if (j->size() < min_items) {
    FailAt(key, absl::StrCat("Invalid value: ", j->size(), " items: must have at least ", min_items,
                             " items"));
  }
  for (size_t i = 0; i < j->size(); ++i) {
    std::string p = absl::StrCat(PathOf(key), "[", i, "]");
    if (objects && !(*j)[i].is_object()) WrongType(p, (*j)[i], "an object");
    out.emplace_back((*j)[i], p);
  }
  return out;
}

std::vector<std::string> Node::StrList(const std::string& key, size_t max_items) const {
  std::vector<std::string> out;
  for (const Node& item : Items(key, max_items, 0, false)) out.push_back(item.AsString());
  return out;
}

std::map<std::string, std::string> Node::StrMap(const std::string& key) const {
  std::map<std::string, std::string> out;
  auto child = OptChild(key);
  if (!child) return out;
  for (auto& [k, v] : child->json().items()) {
    if (!v.is_string()) WrongType(child->PathOf(k), v, "a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

void CheckEnum(const std::string& path, const std::string& value,
               const std::vector<std::string>& allowed) {
  for (const auto& a : allowed) {
    if (a == value) return;
  }
  throw DecodeError(path, absl::StrCat("Unsupported value: \"", value, "\": supported values: \"",
                                       absl::StrJoin(allowed, "\", \""), "\""));
}

void CheckLength(const std::string& path, const std::string& value, size_t max) {
  if (value.size() > max) {
    throw DecodeError(path, absl::StrCat("Too long: may not be more than ", max, " bytes"));
  }
}

void CheckDnsSubdomain(const std::string& path, const std::string& value) {
  CheckPattern(path, value, SubdomainRe(), 253,
               "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
               "characters, '-' or '.', and must start and end with an alphanumeric character");
}

void CheckDnsLabel(const std::string& path, const std::string& value) {
  CheckPattern(path, value, LabelRe(), 63,
               "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
               "or '-', and must start and end with an alphanumeric character");
}

void CheckSectionName(const std::string& path, const std::string& value) {
  CheckPattern(path, value, SubdomainRe(), 253,
               "must consist of lower case alphanumeric characters, '-' or '.', and must "
               "start and end with an alphanumeric character");
}

void CheckHostname(const std::string& path, const std::string& value) {
  static const RE2 re("(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  CheckPattern(path, value, re, 253,
               "must be a lowercase RFC 1123 hostname, optionally prefixed with \"*.\"");
  static const RE2 ip("[0-9.]+");
  if (Matches(ip, value)) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value,
                                         "\": must be a hostname, not an IP address"));
  }
}

void CheckPreciseHostname(const std::string& path, const std::string& value) {
  CheckPattern(path, value, SubdomainRe(), 253, "must be a lowercase RFC 1123 hostname");
}

void CheckHeaderName(const std::string& path, const std::string& value) {
  static const RE2 re("[A-Za-z0-9!#$%&'*+\\-.^_`|~]+");
  CheckPattern(path, value, re, 256, "must be a valid HTTP header name (an RFC 7230 token)");
}

void CheckGroup(const std::string& path, const std::string& value) {
  if (value.empty()) return;  // core
  CheckPattern(path, value, SubdomainRe(), 253, "must be a DNS subdomain or empty (core)");
}

void CheckKindName(const std::string& path, const std::string& value) {
  static const RE2 re("[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?");
  CheckPattern(path, value, re, 63, "must be a kind such as \"Service\"");
}

void CheckHTTPPath(const std::string& path, const std::string& value) {
  CheckLength(path, value, 1024);
  auto bad = [&](const std::string& why) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value, "\": ", why));
  };
  if (value.empty() || value[0] != '/') bad("must be an absolute path and start with '/'");
  for (const char* s : {"//", "/./", "/../", "%2f", "%2F", "#"}) {
    if (value.find(s) != std::string::npos) bad(absl::StrCat("must not contain '", s, "'"));
  }
  for (const char* s : {"/..", "/."}) {
    std::string_view suffix(s);
    if (value.size() >= suffix.size() &&
        value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0) {
      bad(absl::StrCat("must not end with '", s, "'"));
    }
  }
  static const RE2 re("(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+");
  if (!Matches(re, value)) {
    bad("must only contain valid characters (matching "
        "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$)");
  }
}

int64_t ParseDuration(const std::string& path, const std::string& value) {
  static const RE2 whole("([0-9]{1,5}(h|m|s|ms)){1,4}");
  if (!Matches(whole, value)) {
    throw DecodeError(path, absl::StrCat("Invalid value: \"", value,
                                         "\": must be a Gateway API Duration such as \"10s\", "
                                         "\"500ms\" or \"1h2m\" (^([0-9]{1,5}(h|m|s|ms)){1,4}$)"));
  }
  static const RE2 part("([0-9]{1,5})(ms|h|m|s)");
  re2::StringPiece rest(value);
  int64_t total = 0;
  int64_t n = 0;
  std::string unit;
  while (RE2::Consume(&rest, part, &n, &unit)) {
    if (unit == "h") total += n * 3600000;
    if (unit == "m") total += n * 60000;
    if (unit == "s") total += n * 1000;
    if (unit == "ms") total += n;
  }
  return total;
}

}  // namespace xgate::model
