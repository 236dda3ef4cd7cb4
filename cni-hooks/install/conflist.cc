#include "cni-hooks/install/conflist.h"

#include "absl/strings/str_cat.h"

namespace xgate::cni_install {
namespace {

absl::Status Invalid(const std::string& file, const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", field, ": ", why));
}

bool IsOurs(const Json& plugin) {
  return plugin.is_object() && plugin.value("type", Json()) == kPluginType;
}

}  // namespace

absl::Status ValidateConfList(const Json& conf, const std::string& file) {
  if (!conf.is_object()) return Invalid(file, "(top level)", "not a JSON object");
  for (const char* field : {"name", "cniVersion"}) {
    if (!conf.contains(field) || !conf[field].is_string()) {
      return Invalid(file, field, "missing or not a string");
    }
  }
  if (!conf.contains("plugins") || !conf["plugins"].is_array() || conf["plugins"].empty()) {
    return Invalid(file, "plugins", "missing, not an array, or empty");
  }
  for (size_t i = 0; i < conf["plugins"].size(); ++i) {
    const Json& plugin = conf["plugins"][i];
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string()) {
      return Invalid(file, absl::StrCat("plugins[", i, "].type"), "missing or not a string");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ConfToConfList(const Json& conf, const std::string& file) {
  if (!conf.is_object()) return Invalid(file, "(top level)", "not a JSON object");
  if (!conf.contains("type") || !conf["type"].is_string()) {
    return Invalid(file, "type", "missing or not a string");
  }
  Json plugin = conf;
  Json list = Json::object();
  for (const char* field : {"cniVersion", "name"}) {
    if (!conf.contains(field) || !conf[field].is_string()) {
      return Invalid(file, field, "missing or not a string");
    }
    list[field] = conf[field];
    plugin.erase(field);
  }
  list["plugins"] = Json::array({plugin});
  return list;
}

Json WithoutPlugin(Json conflist) {
  Json kept = Json::array();
  for (const Json& plugin : conflist["plugins"]) {
    if (!IsOurs(plugin)) kept.push_back(plugin);
  }
  conflist["plugins"] = std::move(kept);
  return conflist;
}

Json WithPlugin(Json conflist, const Json& entry) {
  conflist = WithoutPlugin(std::move(conflist));
  conflist["plugins"].push_back(entry);
  return conflist;
}

bool HasPlugin(const Json& conflist) {
  if (!conflist.contains("plugins") || !conflist["plugins"].is_array()) return false;
  for (const Json& plugin : conflist["plugins"]) {
    if (IsOurs(plugin)) return true;
  }
  return false;
}

}  // namespace xgate::cni_install
