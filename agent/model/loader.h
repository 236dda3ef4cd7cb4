// Loads Gateway API manifests (multi-document YAML or JSON) into a typed Store.
// Converts every older API version to v1 on load, validates each object as its CRD would,
// and refuses a bad document with file, line and field path while the others still load.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/model/objects.h"

namespace xgate::model {

struct LoadError {
  SourcePos pos;      // file and 1-based line of the offending node (or of the document)
  std::string field;  // field path, e.g. "spec.rules[0].matches[0].path.value"; "" for syntax
  std::string message;
  // The object the document describes when that much could be read: "HTTPRoute foo/foo-route".
  std::string object;
  // "file:line: HTTPRoute foo/foo-route: spec.rules[0]...: message"
  std::string ToString() const;
};

struct LoadResult {
  Store store;
  std::vector<LoadError> errors;
  // The creation index of the first object loaded into it; the next ones count up from it.
  int64_t first_index = 0;
};

// Parses one file's text (one or more YAML documents separated by ---; JSON is YAML too).
// Objects are added to `into`; a document that fails is skipped and reported. A file of
// thousands of documents is decoded on up to `threads` threads (0: one per core), with the
// result of a decode of one document after the other.
void LoadText(std::string_view text, const std::string& filename, LoadResult& into,
              unsigned threads = 0);

// Decodes one object as the API server serves it (JSON, already parsed). `origin` stands for
// the file in errors (the Kubernetes source uses "Kind/namespace/name"); line numbers are 0.
void LoadObject(nlohmann::json object, const std::string& origin, LoadResult& into);

struct ManifestFile {
  std::filesystem::path path;
  std::string text;
  bool readable = true;  // false: the file is listed but could not be read (text empty)
};

// The *.yaml, *.yml and *.json files under `dir` (recursively, in path order; hidden files
// and folders are skipped). Fails only when the folder itself cannot be read.
absl::StatusOr<std::vector<std::filesystem::path>> ListManifestFolder(
    const std::filesystem::path& dir);
ManifestFile ReadManifestFile(const std::filesystem::path& path);
// ListManifestFolder, each file with its text.
absl::StatusOr<std::vector<ManifestFile>> ReadManifestFolder(const std::filesystem::path& dir);

// Loads `files` in order (a file that could not be read is reported as such).
LoadResult LoadFiles(const std::vector<ManifestFile>& files);

// ReadManifestFolder, then LoadFiles.
absl::StatusOr<LoadResult> LoadDirectory(const std::filesystem::path& dir);

// Adds `part` (documents loaded into a LoadResult of their own) to `into`, sharing its
// objects (nothing is copied): its errors after those of `into`, its objects with the
// creation indexes `part` gave them (a caller that appends parts in order gives each a
// `first_index` after the previous part's objects). Returns false, leaving `into` as it
// was, when an object of `part` is already in `into` (a full load reports that duplicate
// where it occurs; the caller loads again in full).
bool AppendLoaded(const LoadResult& part, LoadResult& into);

// Standalone mode keeps metadata.generation as the API server does: an object keeps the
// generation (and creation index/timestamp) it had in `previous` when its spec is unchanged,
// and gets previous+1 when its spec changed. New objects start at 1 (or the manifest's own
// metadata.generation) with creation indexes after every existing one. An object decoded
// from the same unchanged document as in `previous` (same decode_id) is `previous`'s own.
void CarryGenerations(const Store& previous, Store& next);

}  // namespace xgate::model
