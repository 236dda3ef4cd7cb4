// A cursor into a manifest's JSON that knows its field path, reads typed values, writes
// the CRD's defaults back into the JSON (so Object::raw shows them) and refuses bad values
// with a DecodeError naming the field.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xgate::model {

struct DecodeError : std::runtime_error {
  std::string path;
  DecodeError(std::string p, const std::string& message)
      : std::runtime_error(message), path(std::move(p)) {}
};

class Node {
 public:
  Node(nlohmann::json& j, std::string path) : j_(&j), path_(std::move(path)) {}

  nlohmann::json& json() const { return *j_; }
  const std::string& path() const { return path_; }
  std::string PathOf(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  [[noreturn]] void Fail(const std::string& message) const { throw DecodeError(path_, message); }
  [[noreturn]] void FailAt(const std::string& key, const std::string& message) const {
    throw DecodeError(PathOf(key), message);
  }

  // Present and not null.
  bool Has(const std::string& key) const;

  // An object child; Required value when absent.
  Node Child(const std::string& key) const;
  std::optional<Node> OptChild(const std::string& key) const;
  // The object child, created (empty) when absent: for defaulted sub-objects.
  Node ChildOrEmpty(const std::string& key) const;

  std::string Str(const std::string& key) const;  // required, non-empty
  std::optional<std::string> OptStr(const std::string& key) const;
  // The value, or `def` written into the JSON when absent.
  std::string StrOr(const std::string& key, const std::string& def) const;

  int64_t Int(const std::string& key, int64_t min, int64_t max) const;  // required
  std::optional<int64_t> OptInt(const std::string& key, int64_t min, int64_t max) const;
  int64_t IntOr(const std::string& key, int64_t def, int64_t min, int64_t max) const;
  std::optional<bool> OptBool(const std::string& key) const;

  // Array elements (each must be an object unless `objects` is false); empty when absent.
  std::vector<Node> Items(const std::string& key, size_t max_items, size_t min_items = 0,
                          bool objects = true) const;
  std::vector<std::string> StrList(const std::string& key, size_t max_items) const;
  std::map<std::string, std::string> StrMap(const std::string& key) const;

  // Checks this node's own value.
  std::string AsString() const;
  void RequireObject() const;

 private:
  nlohmann::json* Get(const std::string& key) const;
  nlohmann::json* j_;
  std::string path_;
};

// Refuses `value` (at `path`) unless it is one of `allowed`.
void CheckEnum(const std::string& path, const std::string& value,
               const std::vector<std::string>& allowed);

// Validators: each throws DecodeError at `path` with the CRD's rule in the message.
void CheckDnsSubdomain(const std::string& path, const std::string& value);  // object names
void CheckDnsLabel(const std::string& path, const std::string& value);      // namespaces
void CheckSectionName(const std::string& path, const std::string& value);   // listener names
void CheckHostname(const std::string& path, const std::string& value);      // "*." allowed
void CheckPreciseHostname(const std::string& path, const std::string& value);
void CheckHeaderName(const std::string& path, const std::string& value);
void CheckGroup(const std::string& path, const std::string& value);
void CheckKindName(const std::string& path, const std::string& value);
void CheckHTTPPath(const std::string& path, const std::string& value);  // Exact/PathPrefix
void CheckLength(const std::string& path, const std::string& value, size_t max);

// Gateway API Duration ("1h", "10s", "500ms", "1h2m") to milliseconds.
int64_t ParseDuration(const std::string& path, const std::string& value);

}  // namespace xgate::model
