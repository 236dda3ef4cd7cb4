#include "tests/kube/apiserver/preload.h"

#include <absl/strings/str_cat.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "agent/model/yaml_json.h"

namespace xgate::kubetest {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

absl::Status CreateObject(Resources& resources, const json& object, const std::string& where) {
  std::string api_version = object.value("apiVersion", "");
  std::string kind_name = object.value("kind", "");
  for (const Kind& kind : resources.Kinds()) {
    if (kind.GroupVersion() != api_version || kind.kind != kind_name) continue;
    std::string ns = kind.namespaced ? object["metadata"].value("namespace", "default") : "";
    auto created = resources.Create(kind, ns, object, false);
    if (created.ok() || absl::IsAborted(created.status())) return absl::OkStatus();  // exists
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", created.status().message()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": no kind ", kind_name, " in ", api_version, " is served"));
}

absl::Status LoadFile(Resources& resources, const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(file.string() + ": cannot read");
  model::YamlFile yaml = model::ParseYaml(text.str());
  if (!yaml.errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.string(), ":", yaml.errors[0].line, ": ", yaml.errors[0].message));
  }
  for (const auto& doc : yaml.documents) {
    if (!doc.value.is_object()) continue;
    auto s = CreateObject(resources, doc.value, absl::StrCat(file.string(), ":", doc.first_line));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Bootstrap(Resources& resources, const std::vector<fs::path>& manifests,
                       bool restored) {
  if (!restored) {
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      auto s = CreateObject(
          resources, {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}},
          "bootstrap");
      if (!s.ok()) return s;
    }
  }
  for (const fs::path& path : manifests) {
    std::vector<fs::path> files;
    if (fs::is_directory(path)) {
      for (const auto& e : fs::directory_iterator(path)) {
        auto ext = e.path().extension();
        if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());  // kubectl's order: by name
    } else {
      files.push_back(path);
    }
    for (const fs::path& f : files) {
      if (auto s = LoadFile(resources, f); !s.ok()) return s;
      spdlog::info("preloaded {}", f.string());
    }
  }
  return absl::OkStatus();
}

}  // namespace xgate::kubetest
