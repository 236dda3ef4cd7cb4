#include "agent/sources/folder_edit.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/model/loader.h"

namespace xgate::sources {
namespace {

namespace fs = std::filesystem;
using model::Kind;
using model::ObjectKey;

// One YAML document of a file, with the "---" line that opens it (if any).
struct Segment {
  int first_line = 1;  // 1-based
  std::string text;
};

bool IsSeparator(const std::string& line) {
  return line.rfind("---", 0) == 0 &&
         (line.size() == 3 || std::isspace(static_cast<unsigned char>(line[3])) || line[3] == '#');
}

std::vector<Segment> Split(std::string_view text) {
  std::vector<Segment> out(1);
  std::istringstream in{std::string(text)};
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (IsSeparator(line) && n > 1) out.push_back({n, ""});
    out.back().text += line + "\n";
  }
  return out;
}

size_t SegmentOf(const std::vector<Segment>& segments, int line) {
  size_t i = 0;
  while (i + 1 < segments.size() && segments[i + 1].first_line <= line) ++i;
  return i;
}

// The document's own text, without its "---" line.
std::string Body(const Segment& s) {
  std::string first = s.text.substr(0, s.text.find('\n'));
  return IsSeparator(first) ? s.text.substr(s.text.find('\n') + 1) : s.text;
}

void ForEachObject(const model::Store& store,
                   const std::function<void(Kind, const model::Object&)>& fn) {
  auto all = [&](const auto& map, Kind kind) {
    for (const auto& [key, obj] : map) fn(kind, obj);
  };
  all(store.gateway_classes, Kind::kGatewayClass);
  all(store.gateways, Kind::kGateway);
  all(store.http_routes, Kind::kHTTPRoute);
  all(store.tcp_routes, Kind::kTCPRoute);
  all(store.udp_routes, Kind::kUDPRoute);
  all(store.tls_routes, Kind::kTLSRoute);
  all(store.grpc_routes, Kind::kGRPCRoute);
  all(store.reference_grants, Kind::kReferenceGrant);
  all(store.namespaces, Kind::kNamespace);
  all(store.services, Kind::kService);
  all(store.endpoint_slices, Kind::kEndpointSlice);
  all(store.secrets, Kind::kSecret);
  all(store.backend_tls_policies, Kind::kBackendTLSPolicy);
  all(store.config_maps, Kind::kConfigMap);
  all(store.listener_sets, Kind::kListenerSet);
}

struct Located {
  ObjectKey key;
  std::string file;
  size_t segment = 0;
};

// The manifest's objects, each with the document it came from; refuses a manifest that
// does not load cleanly.
absl::StatusOr<std::vector<Located>> ParseManifest(std::string_view manifest,
                                                   const std::string& filename,
                                                   const std::vector<Segment>& segments) {
  model::LoadResult parsed;
  model::LoadText(manifest, filename, parsed);
  if (!parsed.errors.empty()) {
    std::vector<std::string> errors;
    for (const auto& e : parsed.errors) errors.push_back(e.ToString());
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  std::vector<Located> out;
  ForEachObject(parsed.store, [&](Kind kind, const model::Object& obj) {
    out.push_back(
        {{kind, obj.meta.ns, obj.meta.name}, filename, SegmentOf(segments, obj.meta.source.line)});
  });
  if (out.empty()) return absl::InvalidArgumentError(filename + ": no objects in the manifest");
  return out;
}

struct FolderIndex {
  std::map<ObjectKey, Located> where;
  std::map<std::pair<std::string, size_t>, int> objects_per_segment;
};

absl::StatusOr<FolderIndex> IndexFolder(const fs::path& dir) {
  auto loaded = model::LoadDirectory(dir);
  if (!loaded.ok()) return loaded.status();
  FolderIndex index;
  std::map<std::string, std::vector<Segment>> files;
  ForEachObject(loaded->store, [&](Kind kind, const model::Object& obj) {
    const std::string& file = obj.meta.source.file;
    if (!files.count(file)) {
      std::ifstream in(file);
      std::stringstream ss;
      ss << in.rdbuf();
      files[file] = Split(ss.str());
    }
    size_t segment = SegmentOf(files[file], obj.meta.source.line);
    ObjectKey key{kind, obj.meta.ns, obj.meta.name};
    index.where[key] = {key, file, segment};
    ++index.objects_per_segment[{file, segment}];
  });
  return index;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces `path` in one step (a hidden temp file renamed over it), so the watcher and the
// loader never see half a file.
absl::Status WriteAtomically(const fs::path& path, const std::string& text) {
  std::string tmp = (path.parent_path() / ".xgate-edit-XXXXXX").string();
  int fd = mkstemp(tmp.data());
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot write in ", path.parent_path().string()));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fchmod(fd, 0644) == 0 && ok;
  ok = close(fd) == 0 && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

fs::path NewFileFor(const fs::path& dir, const ObjectKey& key, const std::set<fs::path>& taken) {
  std::string base =
      Lower(model::KindName(key.kind)) + "-" + (key.ns.empty() ? "" : key.ns + "-") + key.name;
  fs::path path = dir / (base + ".yaml");
  for (int i = 2; fs::exists(path) || taken.count(path); ++i) {
    path = dir / (base + "-" + std::to_string(i) + ".yaml");
  }
  return path;
}

bool HasContent(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find_first_not_of(" \t\r");
    if (at == std::string::npos || line[at] == '#' || IsSeparator(line)) continue;
    return true;
  }
  return false;
}

// Per file: segment index -> new text ("" removes the document).
using Edits = std::map<std::string, std::map<size_t, std::string>>;

absl::Status WriteEdits(const Edits& edits) {
  for (const auto& [file, changes] : edits) {
    std::vector<Segment> segments = Split(ReadText(file));
    std::string text;
    for (size_t i = 0; i < segments.size(); ++i) {
      auto it = changes.find(i);
      if (it == changes.end()) {
        text += segments[i].text;
      } else if (!it->second.empty()) {
        text += (i == 0 ? "" : "---\n") + it->second;
      }
    }
    if (HasContent(text)) {
      if (auto s = WriteAtomically(file, text); !s.ok()) return s;
    } else {
      std::error_code ec;
      fs::remove(file, ec);
    }
  }
  return absl::OkStatus();
}

// A manifest split and parsed, and the folder it is to change, indexed.
struct ManifestAndFolder {
  std::vector<Segment> segments;
  std::vector<Located> objects;
  FolderIndex index;
};

absl::StatusOr<ManifestAndFolder> ReadAgainstFolder(const fs::path& dir, std::string_view manifest,
                                                    const std::string& filename) {
  ManifestAndFolder read;
  read.segments = Split(manifest);
  auto objects = ParseManifest(manifest, filename, read.segments);
  if (!objects.ok()) return objects.status();
  read.objects = *std::move(objects);
  auto index = IndexFolder(dir);
  if (!index.ok()) return index.status();
  read.index = *std::move(index);
  return read;
}

}  // namespace

absl::StatusOr<FolderChange> ApplyManifest(const fs::path& dir, std::string_view manifest,
                                           const std::string& filename) {
  auto read = ReadAgainstFolder(dir, manifest, filename);
  if (!read.ok()) return read.status();
  auto& [segments, objects, index] = *read;

  std::map<size_t, std::vector<ObjectKey>> by_segment;
  for (const auto& o : objects) by_segment[o.segment].push_back(o.key);

  Edits edits;
  std::map<fs::path, std::string> new_files;
  std::set<fs::path> taken;
  FolderChange change;
  for (const auto& [segment, keys] : by_segment) {
    std::string body = Body(segments[segment]);
    if (!body.empty() && body.back() != '\n') body += "\n";
    std::set<std::pair<std::string, size_t>> targets;
    for (const auto& key : keys) {
      auto it = index.where.find(key);
      if (it != index.where.end()) targets.insert({it->second.file, it->second.segment});
      change.changed.push_back(key.ToString());
    }
    if (targets.empty()) {
      fs::path path = NewFileFor(dir, keys.front(), taken);
      taken.insert(path);
      new_files[path] = body;
      continue;
    }
    auto target = *targets.begin();
    size_t existing = std::count_if(keys.begin(), keys.end(),
                                    [&](const ObjectKey& k) { return index.where.count(k) > 0; });
    bool whole_document = targets.size() == 1 && existing == keys.size() &&
                          keys.size() == static_cast<size_t>(index.objects_per_segment[target]);
    if (!whole_document) {
      return absl::FailedPreconditionError(
          absl::StrCat(keys.front().ToString(), ": the folder defines it in ", target.first,
                       " together with other objects (a List); edit that file instead"));
    }
    edits[target.first][target.second] = body;
  }
  if (auto s = WriteEdits(edits); !s.ok()) return s;
  for (const auto& [path, text] : new_files) {
    if (auto s = WriteAtomically(path, text); !s.ok()) return s;
  }
  return change;
}

absl::StatusOr<FolderChange> DeleteManifest(const fs::path& dir, std::string_view manifest,
                                            const std::string& filename) {
  auto read = ReadAgainstFolder(dir, manifest, filename);
  if (!read.ok()) return read.status();
  auto& [segments, objects, index] = *read;

  std::map<std::pair<std::string, size_t>, int> removing;
  FolderChange change;
  for (const auto& o : objects) {
    auto it = index.where.find(o.key);
    if (it == index.where.end()) {
      change.not_found.push_back(o.key.ToString());
      continue;
    }
    ++removing[{it->second.file, it->second.segment}];
    change.changed.push_back(o.key.ToString());
  }
  Edits edits;
  for (const auto& [target, count] : removing) {
    if (count < index.objects_per_segment[target]) {
      return absl::FailedPreconditionError(
          absl::StrCat(target.first,
                       ": the objects to delete share a List with others; "
                       "edit that file instead"));
    }
    edits[target.first][target.second] = "";
  }
  if (auto s = WriteEdits(edits); !s.ok()) return s;
  return change;
}

}  // namespace xgate::sources
