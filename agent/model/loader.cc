#include "agent/model/loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/model/decode.h"
#include "agent/model/v1alpha1.h"
#include "agent/model/yaml_json.h"

namespace xgate::model {
namespace {

using nlohmann::json;

uint64_t NextDecodeId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

LoadError MakeError(const std::string& file, int line, std::string field, std::string message,
                    std::string object) {
  LoadError e;
  e.pos.file = file;
  e.pos.line = line;
  e.field = std::move(field);
  e.message = std::move(message);
  e.object = std::move(object);
  return e;
}

struct KindInfo {
  Kind kind;
  bool v1alpha1 = false;  // networking.x-k8s.io/v1alpha1: convert first
};

bool IsGatewayKind(const std::string& k) {
  return k == "GatewayClass" || k == "Gateway" || k == "HTTPRoute" || k == "TCPRoute" ||
         k == "UDPRoute" || k == "TLSRoute" || k == "ReferenceGrant" || k == "GRPCRoute" ||
         k == "BackendTLSPolicy" || k == "ListenerSet";
}

std::optional<Kind> KindFromName(const std::string& name) {
  for (Kind k : {Kind::kGatewayClass, Kind::kGateway, Kind::kHTTPRoute, Kind::kTCPRoute,
                 Kind::kUDPRoute, Kind::kTLSRoute, Kind::kReferenceGrant, Kind::kNamespace,
                 Kind::kService, Kind::kEndpointSlice, Kind::kSecret, Kind::kGRPCRoute,
                 Kind::kBackendTLSPolicy, Kind::kConfigMap, Kind::kListenerSet}) {
    if (name == KindName(k)) return k;
  }
  return std::nullopt;
}

// Which of our kinds (apiVersion, kind) is; nullopt for kinds we do not use (skipped).
// Throws DecodeError for a kind we use written with an apiVersion we do not know.
std::optional<KindInfo> Classify(const std::string& api_version, const std::string& kind) {
  std::optional<Kind> k = KindFromName(kind);
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  if (group == kGatewayGroup && k && IsGatewayKind(kind)) {
    bool l4 = *k == Kind::kTCPRoute || *k == Kind::kUDPRoute || *k == Kind::kTLSRoute ||
              *k == Kind::kBackendTLSPolicy;
    if (*k == Kind::kGRPCRoute) {
      if (version == "v1" || version == "v1alpha2") return KindInfo{*k};
    } else if (*k == Kind::kListenerSet) {
      if (version == "v1") return KindInfo{*k};
    } else if (version == "v1" || version == "v1beta1" || version == "v1alpha2" ||
               (l4 && version == "v1alpha3")) {
      return KindInfo{*k};
    }
  } else if (group == "networking.x-k8s.io" && k && IsGatewayKind(kind) &&
             *k != Kind::kReferenceGrant && *k != Kind::kGRPCRoute &&
             *k != Kind::kBackendTLSPolicy && *k != Kind::kListenerSet) {
    if (version == "v1alpha1") return KindInfo{*k, true};
  } else if (group.empty() && k && std::string(KindGroup(*k)).empty()) {
    if (version == "v1") return KindInfo{*k};
  } else if (group == "discovery.k8s.io" && k == Kind::kEndpointSlice) {
    if (version == "v1") return KindInfo{*k};
  } else {
    return std::nullopt;  // not ours: Deployment, ConfigMap, CRDs of other groups...
  }
  throw DecodeError("apiVersion", absl::StrCat("Unsupported value: \"", api_version,
                                               "\": no version of ", kind, " by that name"));
}

// Removes the keys the v1alpha1 conversion left for the decoder.
void StripConversionKeys(json& j) {
  if (j.is_object()) {
    j.erase(kV1alpha1RouteSelectorKey);
    j.erase(kV1alpha1PortFromServiceKey);
    for (auto& [k, v] : j.items()) StripConversionKeys(v);
  } else if (j.is_array()) {
    for (auto& v : j) StripConversionKeys(v);
  }
}

// "HTTPRoute web/r" as far as metadata can be read, for error messages.
std::string ObjectName(Kind kind, const Node& root) {
  const json& md = root.json().contains("metadata") ? root.json()["metadata"] : json();
  auto str = [&](const char* key) {
    return md.is_object() && md.contains(key) && md[key].is_string() ? md[key].get<std::string>()
                                                                     : std::string();
  };
  std::string ns = str("namespace");
  bool cluster = kind == Kind::kGatewayClass || kind == Kind::kNamespace;
  if (cluster) ns.clear();
  if (!cluster && ns.empty()) ns = "default";
  return absl::StrCat(KindName(kind), " ", ns.empty() ? "" : ns + "/", str("name"));
}

template <typename T>
using Decoder = void (*)(const Node&, T&);

template <typename T>
void NoSpec(const Node&, T&) {}

// A document's lines, worked out only when an error, a List or a v1alpha1 conversion
// needs them (most documents load without).
class Lines {
 public:
  explicit Lines(std::function<LineMap()> parse) : parse_(std::move(parse)) {}
  explicit Lines(LineMap known) : map_(std::move(known)), parsed_(true) {}

  LineMap& Get() {
    if (!parsed_) map_ = parse_();
    parsed_ = true;
    return map_;
  }

 private:
  std::function<LineMap()> parse_;
  LineMap map_;
  bool parsed_ = false;
};

class DocumentLoader {
 public:
  DocumentLoader(LoadResult& into) : into_(into) {}

  void Load(json& value, Lines& lines, const std::string& file, int first_line) {
    std::string object;
    auto error = [&](const std::string& path, const std::string& message) {
      into_.errors.push_back(
          MakeError(file, LineOf(lines.Get(), path, first_line), path, message, object));
    };
    try {
      if (value.is_null()) return;  // empty document
      if (!value.is_object()) {
        error("", "a manifest document must be a mapping (a Kubernetes object)");
        return;
      }
      Node root(value, "");
      std::string api_version = root.Str("apiVersion");
      std::string kind = root.Str("kind");
      if (kind == "List" && api_version == "v1") {
        LoadList(root, lines.Get(), file, first_line);
        return;
      }
      object = kind;
      std::optional<KindInfo> info = Classify(api_version, kind);
      if (!info) {
        spdlog::debug("{}:{}: skipping {} {} (not a kind xgate uses)", file, first_line,
                      api_version, kind);
        return;
      }
      object = ObjectName(info->kind, root);
      V1alpha1Binding binding;
      if (info->v1alpha1) binding = ConvertV1alpha1(info->kind, value, lines.Get());
      Place(info->kind, root, api_version, binding, file, first_line, object);
    } catch (const DecodeError& e) {
      error(e.path, e.what());
    } catch (const json::exception& e) {
      error("", absl::StrCat("malformed object: ", e.what()));
    }
  }

 private:
  // A `kind: List` (as `kubectl get -o yaml` writes several objects): each item on its own.
  void LoadList(const Node& root, const LineMap& lines, const std::string& file, int first_line) {
    std::vector<Node> items = root.Items("items", SIZE_MAX, 0, false);
    for (size_t i = 0; i < items.size(); ++i) {
      std::string prefix = absl::StrCat("items[", i, "]");
      LineMap sub_lines;
      for (auto it = lines.lower_bound(prefix); it != lines.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) break;
        std::string rest = it->first.substr(prefix.size());
        if (rest.empty()) {
          sub_lines[""] = it->second;
        } else if (rest[0] == '.') {
          sub_lines[rest.substr(1)] = it->second;
        }
      }
      Lines sub(std::move(sub_lines));
      Load(items[i].json(), sub, file, LineOf(lines, prefix, first_line));
    }
  }

  void Place(Kind kind, const Node& root, const std::string& api_version,
             const V1alpha1Binding& binding, const std::string& file, int line,
             const std::string& object) {
    switch (kind) {
      case Kind::kGatewayClass:
        return Put(into_.store.gateway_classes, kind, root, api_version, binding, file, line,
                   &DecodeGatewayClass);
      case Kind::kGateway:
        return Put(into_.store.gateways, kind, root, api_version, binding, file, line,
                   &DecodeGateway);
      case Kind::kHTTPRoute:
        return Put(into_.store.http_routes, kind, root, api_version, binding, file, line,
                   &DecodeHTTPRoute);
      case Kind::kTCPRoute:
        return Put(into_.store.tcp_routes, kind, root, api_version, binding, file, line,
                   &DecodeTCPRoute);
      case Kind::kUDPRoute:
        return Put(into_.store.udp_routes, kind, root, api_version, binding, file, line,
                   &DecodeUDPRoute);
      case Kind::kTLSRoute:
        return Put(into_.store.tls_routes, kind, root, api_version, binding, file, line,
                   &DecodeTLSRoute);
      case Kind::kReferenceGrant:
        return Put(into_.store.reference_grants, kind, root, api_version, binding, file, line,
                   &DecodeReferenceGrant);
      case Kind::kNamespace:
        return Put(into_.store.namespaces, kind, root, api_version, binding, file, line,
                   &NoSpec<Namespace>);
      case Kind::kService:
        return Put(into_.store.services, kind, root, api_version, binding, file, line,
                   &DecodeService);
      case Kind::kEndpointSlice:
        return Put(into_.store.endpoint_slices, kind, root, api_version, binding, file, line,
                   &DecodeEndpointSlice);
      case Kind::kSecret:
        return Put(into_.store.secrets, kind, root, api_version, binding, file, line,
                   &DecodeSecret);
      case Kind::kGRPCRoute:
        return Put(into_.store.grpc_routes, kind, root, api_version, binding, file, line,
                   &DecodeGRPCRoute);
      case Kind::kBackendTLSPolicy:
        return Put(into_.store.backend_tls_policies, kind, root, api_version, binding, file, line,
                   &DecodeBackendTLSPolicy);
      case Kind::kConfigMap:
        return Put(into_.store.config_maps, kind, root, api_version, binding, file, line,
                   &DecodeConfigMap);
      case Kind::kListenerSet:
        return Put(into_.store.listener_sets, kind, root, api_version, binding, file, line,
                   &DecodeListenerSet);
    }
  }

  template <typename T>
  void Put(ObjectMap<Store::Key, T>& map, Kind kind, const Node& root,
           const std::string& api_version, const V1alpha1Binding& binding, const std::string& file,
           int line, Decoder<T> decode) {
    T obj;
    obj.api_version = api_version;
    obj.meta.source = {file, line};
    DecodeMeta(root, kind, obj.meta);
    decode(root, obj);
    obj.v1alpha1_selector_binding = binding.selector_binding;
    obj.v1alpha1_same_namespace_only = binding.same_namespace_only;
    Store::Key key{obj.meta.ns, obj.meta.name};
    if (auto it = map.find(key); it != map.end()) {
      const SourcePos& first = it->second.meta.source;
      throw DecodeError(
          "metadata.name",
          absl::StrCat("Duplicate value: ", ObjectKey{kind, key.first, key.second}.ToString(),
                       " is already defined at ", first.file, ":", first.line));
    }
    obj.meta.creation_index = into_.first_index + static_cast<int64_t>(into_.store.Size());
    obj.decode_id = NextDecodeId();
    json raw = std::move(root.json());  // the document is not read again after its decode
    raw.erase("status");
    if (IsGatewayKind(KindName(kind))) raw["apiVersion"] = absl::StrCat(kGatewayGroup, "/v1");
    if (obj.api_version == kV1alpha1ApiVersion) StripConversionKeys(raw);
    obj.raw = std::move(raw);
    map.emplace(key, std::move(obj));
  }

  LoadResult& into_;
};

// What CarryGenerations compares: the spec of Gateway API objects, everything but
// metadata (and status) for core objects.
json Comparable(const Object& obj, Kind kind) {
  json copy = obj.raw.Parse();
  if (IsGatewayKind(KindName(kind))) {
    return copy.is_object() && copy.contains("spec") ? std::move(copy["spec"]) : json();
  }
  if (copy.is_object()) {
    copy.erase("metadata");
    copy.erase("status");
  }
  return copy;
}

template <typename T>
void CarryKind(const ObjectMap<Store::Key, T>& prev, ObjectMap<Store::Key, T>& next, Kind kind,
               int64_t index_base) {
  // The objects `next` shares with `prev` (most, and whole chunks of them) are carried already.
  next.JoinChanged(prev, [&](auto& slot, const std::shared_ptr<T>* old_slot) {
    if (old_slot == nullptr) {
      // Younger than every object of `previous` (a part's own indexes usually are already).
      if (slot->meta.creation_index < index_base) {
        slot.Mutable().meta.creation_index += index_base;
      }
      return;
    }
    const T& old = **old_slot;
    // What carrying it again would give.
    if (old.decode_id == slot->decode_id) {
      slot.Set(*old_slot);
      return;
    }
    const int64_t generation = Comparable(old, kind) == Comparable(*slot, kind)
                                   ? old.meta.generation
                                   : old.meta.generation + 1;
    T& obj = slot.Mutable();
    obj.meta.generation = generation;
    obj.meta.creation_index = old.meta.creation_index;
    if (obj.meta.creation_timestamp.empty())
      obj.meta.creation_timestamp = old.meta.creation_timestamp;
    if (obj.raw.is_object()) {
      json raw = obj.raw.Parse();
      if (raw.contains("metadata")) {
        raw["metadata"]["generation"] = obj.meta.generation;
        obj.raw = raw;
      }
    }
  });
}

}  // namespace

std::string LoadError::ToString() const {
  std::string out = pos.file;
  if (pos.line > 0) absl::StrAppend(&out, ":", pos.line);
  if (!object.empty()) absl::StrAppend(&out, ": ", object);
  if (!field.empty()) absl::StrAppend(&out, ": ", field);
  absl::StrAppend(&out, ": ", message);
  return out;
}

namespace {

void AddSyntaxErrors(const YamlFile& file, const std::string& filename, LoadResult& into) {
  for (const auto& e : file.errors) {
    into.errors.push_back(
        MakeError(filename, e.line, "", absl::StrCat("YAML syntax error: ", e.message), ""));
  }
}

// Decodes documents [from, to) of `file` into `into`, in order.
void LoadDocuments(std::string_view text, const std::string& filename, YamlFile& file, size_t from,
                   size_t to, LoadResult& into) {
  DocumentLoader loader(into);
  for (size_t i = from; i < to; ++i) {
    YamlDocument& doc = file.documents[i];
    Lines lines([&] { return DocumentLines(text, doc); });
    loader.Load(doc.value, lines, filename, doc.first_line);
  }
}

// Adds `by` to the creation index of every object of `store` (each held by `store` alone).
void ShiftCreationIndexes(Store& store, int64_t by) {
  if (by == 0) return;
  ForEachKindMap(store, store, [by](auto& map, auto&) {
    using Map = std::decay_t<decltype(map)>;
    map.JoinChanged(Map(),
                    [by](auto& slot, const auto*) { slot.Mutable().meta.creation_index += by; });
  });
}

// Fewer documents than this a thread costs more than it saves.
constexpr size_t kDocumentsPerThread = 256;

// A file of thousands of documents (10,000 HTTPRoutes with their Services and EndpointSlices
// in one file) is decoded on several threads, each a run of consecutive documents into a
// LoadResult of its own, joined in order afterwards: the objects, errors and creation indexes
// of a decode of one document after the other. False, leaving `into` as it was, when that is
// not what it would give (a name defined in two runs, or one `into` has already): the caller
// decodes the file in order, which reports the duplicate where it occurs.
bool LoadInParallel(std::string_view text, const std::string& filename, YamlFile& file,
                    unsigned most_threads, LoadResult& into) {
  if (most_threads == 0) most_threads = std::min(8u, std::thread::hardware_concurrency());
  const size_t threads =
      std::min<size_t>(most_threads, file.documents.size() / kDocumentsPerThread);
  if (threads < 2) return false;
  std::vector<LoadResult> runs(threads);
  auto decode = [&](size_t t) {
    const size_t n = file.documents.size();
    LoadDocuments(text, filename, file, n * t / threads, n * (t + 1) / threads, runs[t]);
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(decode, t);
  decode(0);
  for (auto& h : helpers) h.join();
  LoadResult joined;
  AddSyntaxErrors(file, filename, joined);
  const int64_t base = into.first_index + static_cast<int64_t>(into.store.Size());
  for (LoadResult& run : runs) {
    // Each run counted its objects' indexes from 0; one decode counts on from the runs before.
    ShiftCreationIndexes(run.store, base + static_cast<int64_t>(joined.store.Size()));
    if (!AppendLoaded(run, joined)) return false;
  }
  return AppendLoaded(joined, into);
}

}  // namespace

void LoadText(std::string_view text, const std::string& filename, LoadResult& into,
              unsigned threads) {
  YamlFile file = ParseYaml(text, /*with_lines=*/false);
  if (threads != 1 && file.documents.size() >= 2 * kDocumentsPerThread) {
    if (LoadInParallel(text, filename, file, threads, into)) return;
    file = ParseYaml(text, /*with_lines=*/false);  // the parallel decode took the documents
  }
  AddSyntaxErrors(file, filename, into);
  LoadDocuments(text, filename, file, 0, file.documents.size(), into);
}

void LoadObject(nlohmann::json object, const std::string& origin, LoadResult& into) {
  Lines no_lines(LineMap{});
  DocumentLoader(into).Load(object, no_lines, origin, 0);
}

absl::StatusOr<std::vector<std::filesystem::path>> ListManifestFolder(
    const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("manifest folder ", dir.string(), " is not a readable directory"));
  }
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec)
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      return absl::PermissionDeniedError(
          absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    // Symlinked folders are followed (ConfigMap mounts use them); a cycle stops here.
    if (it.depth() >= 16 && it->is_directory()) {
      it.disable_recursion_pending();
      continue;
    }
    std::string ext = p.extension().string();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ManifestFile ReadManifestFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
  if (size < 0) return ManifestFile{path, "", false};
  // Read in one go (a stringstream copy took a third of a 10 MB folder's sync).
  std::string text(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(text.data(), size);
  text.resize(static_cast<size_t>(in.gcount()));
  return in || in.eof() ? ManifestFile{path, std::move(text)} : ManifestFile{path, "", false};
}

absl::StatusOr<std::vector<ManifestFile>> ReadManifestFolder(const std::filesystem::path& dir) {
  auto files = ListManifestFolder(dir);
  if (!files.ok()) return files.status();
  std::vector<ManifestFile> out;
  for (const auto& f : *files) out.push_back(ReadManifestFile(f));
  return out;
}

LoadResult LoadFiles(const std::vector<ManifestFile>& files) {
  LoadResult result;
  for (const auto& f : files) {
    if (!f.readable) {
      result.errors.push_back(MakeError(f.path.string(), 0, "", "cannot read file", ""));
      continue;
    }
    LoadText(f.text, f.path.string(), result);
  }
  return result;
}

absl::StatusOr<LoadResult> LoadDirectory(const std::filesystem::path& dir) {
  auto files = ReadManifestFolder(dir);
  if (!files.ok()) return files.status();
  return LoadFiles(*files);
}

bool AppendLoaded(const LoadResult& part, LoadResult& into) {
  bool duplicate = false;
  ForEachKindMap(part.store, into.store, [&](const auto& from, auto& to) {
    if (to.empty()) return;  // nothing to collide with
    for (const auto& [key, object] : from) {
      if (to.contains(key)) duplicate = true;
    }
  });
  if (duplicate) return false;
  ForEachKindMap(part.store, into.store, [&](const auto& from, auto& to) {
    if (to.empty()) {
      to = from;  // its chunks shared
      return;
    }
    for (auto it = from.begin(); it != from.end(); ++it) to.Share(it->first, it.shared());
  });
  into.errors.insert(into.errors.end(), part.errors.begin(), part.errors.end());
  return true;
}

void CarryGenerations(const Store& previous, Store& next) {
  int64_t base = -1;
  ForEachKindMap(previous, previous,
                 [&](const auto& map, const auto&) { base = map.MaxCreationIndex(base); });
  base += 1;
  CarryKind(previous.gateway_classes, next.gateway_classes, Kind::kGatewayClass, base);
  CarryKind(previous.gateways, next.gateways, Kind::kGateway, base);
  CarryKind(previous.http_routes, next.http_routes, Kind::kHTTPRoute, base);
  CarryKind(previous.tcp_routes, next.tcp_routes, Kind::kTCPRoute, base);
  CarryKind(previous.udp_routes, next.udp_routes, Kind::kUDPRoute, base);
  CarryKind(previous.tls_routes, next.tls_routes, Kind::kTLSRoute, base);
  CarryKind(previous.reference_grants, next.reference_grants, Kind::kReferenceGrant, base);
  CarryKind(previous.namespaces, next.namespaces, Kind::kNamespace, base);
  CarryKind(previous.services, next.services, Kind::kService, base);
  CarryKind(previous.endpoint_slices, next.endpoint_slices, Kind::kEndpointSlice, base);
  CarryKind(previous.secrets, next.secrets, Kind::kSecret, base);
  CarryKind(previous.grpc_routes, next.grpc_routes, Kind::kGRPCRoute, base);
  CarryKind(previous.backend_tls_policies, next.backend_tls_policies, Kind::kBackendTLSPolicy,
            base);
  CarryKind(previous.config_maps, next.config_maps, Kind::kConfigMap, base);
  CarryKind(previous.listener_sets, next.listener_sets, Kind::kListenerSet, base);
}

}  // namespace xgate::model
