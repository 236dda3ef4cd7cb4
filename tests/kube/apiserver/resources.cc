#include "tests/kube/apiserver/resources.h"

#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <algorithm>
#include <random>

#include "tests/kube/apiserver/api_status.h"
#include "tests/kube/apiserver/patch.h"
#include "tests/kube/apiserver/selectors.h"

namespace xgate::kubetest {

using nlohmann::json;

namespace {

constexpr size_t kMaxAnnotationBytes = 256 * 1024;  // apimachinery's TotalAnnotationSizeLimitB
constexpr char kCrdKey[] = "apiextensions.k8s.io/customresourcedefinitions";
constexpr char kNamespaceKey[] = "/namespaces";

std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (size_t i = 0; i < n; ++i) out += "0123456789abcdef"[rng() % 16];
  return out;
}

std::string Uid() {
  std::string h = RandomHex(32);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20));
}

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

absl::Status Invalid(const Kind& kind, const std::string& name, const std::string& field_error) {
  return ApiError(422, "Invalid",
                  absl::StrCat(kind.kind, ".", kind.group.empty() ? "" : kind.group, " \"", name,
                               "\" is invalid: ", field_error),
                  {{"name", name}, {"group", kind.group}, {"kind", kind.kind}});
}

absl::Status CheckAnnotations(const Kind& kind, const json& object) {
  size_t total = 0;
  json annotations = object["metadata"].value("annotations", json::object());
  for (const auto& [k, v] : annotations.items())
    total += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
  if (total <= kMaxAnnotationBytes) return absl::OkStatus();
  return Invalid(kind, object["metadata"].value("name", ""),
                 "metadata.annotations: Too long: must have at most 262144 bytes");
}

// Everything but metadata and status: what metadata.generation counts changes of.
json SpecPart(json object) {
  object.erase("metadata");
  object.erase("status");
  object.erase("apiVersion");
  object.erase("kind");
  return object;
}

// What the real server's controllers would set at once: a Namespace is Active, a CRD's names
// are accepted and it is established.
void DefaultStatus(const Kind& kind, json& object) {
  if (kind.StoreKey() == kNamespaceKey) object["status"] = {{"phase", "Active"}};
  if (kind.StoreKey() == kCrdKey) {
    json cond = {{"status", "True"}, {"lastTransitionTime", Now()}};
    json accepted = cond, established = cond;
    accepted.update(
        {{"type", "NamesAccepted"}, {"reason", "NoConflicts"}, {"message", "no conflicts found"}});
    established.update({{"type", "Established"},
                        {"reason", "InitialNamesAccepted"},
                        {"message", "the initial names have been accepted"}});
    json served = json::array();
    for (const json& v : object["spec"].value("versions", json::array()))
      if (v.value("storage", false)) served.push_back(v.value("name", ""));
    object["status"] = {{"acceptedNames", object["spec"].value("names", json::object())},
                        {"conditions", {accepted, established}},
                        {"storedVersions", served}};
  }
}

struct ContinueToken {
  uint64_t rv = 0;
  std::string start;
};

std::string EncodeContinue(const ContinueToken& t) {
  return absl::WebSafeBase64Escape(
      json{{"v", "meta.k8s.io/v1"}, {"rv", t.rv}, {"start", t.start}}.dump());
}

absl::StatusOr<ContinueToken> DecodeContinue(const std::string& text) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw))
    return ApiError(400, "BadRequest", "continue key is not valid: illegal base64 data");
  json j = json::parse(raw, nullptr, false);
  if (!j.is_object() || !j.contains("rv") || !j.contains("start"))
    return ApiError(400, "BadRequest",
                    "continue key is not valid: incorrect encoded start resourceVersion (version "
                    "meta.k8s.io/v1)");
  return ContinueToken{j["rv"].get<uint64_t>(), j["start"].get<std::string>()};
}

std::string Param(const Query& q, const std::string& name) {
  auto it = q.find(name);
  return it == q.end() ? "" : it->second;
}

}  // namespace

std::vector<Kind> Resources::Kinds() const {
  std::lock_guard lock(kinds_mu_);
  uint64_t revision = store_.Revision(kCrdKey);
  if (kinds_.empty() || revision != kinds_revision_) {
    kinds_ = BuiltinKinds();
    uint64_t head;
    for (const json& crd : store_.List(kCrdKey, &head))
      for (Kind& k : KindsOfCrd(crd)) kinds_.push_back(std::move(k));
    kinds_revision_ = revision;
  }
  return kinds_;
}

std::optional<Kind> Resources::Find(const std::string& group, const std::string& version,
                                    const std::string& resource) const {
  for (Kind& k : Kinds())
    if (k.group == group && k.version == version && k.resource == resource) return k;
  return std::nullopt;
}

json Resources::Present(const Kind& kind, json object) {
  object["apiVersion"] = kind.GroupVersion();
  object["kind"] = kind.kind;
  return object;
}

absl::StatusOr<json> Resources::Create(const Kind& kind, const std::string& ns, json object,
                                       bool dry_run) {
  if (!object.is_object()) return ApiError(400, "BadRequest", "the body is not a JSON object");
  json& meta = object["metadata"];
  if (!meta.is_object()) meta = json::object();
  std::string name = meta.value("name", "");
  if (name.empty() && meta.contains("generateName"))
    name = meta["generateName"].get<std::string>() + RandomHex(5);
  if (name.empty())
    return Invalid(kind, "", "metadata.name: Required value: name or generateName is required");
  meta["name"] = name;
  if (kind.namespaced) {
    if (meta.contains("namespace") && meta["namespace"] != ns)
      return ApiError(
          400, "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request");
    meta["namespace"] = ns;
    if (!store_.Get(kNamespaceKey, ObjectKey("", ns))) return NotFound("namespaces", ns);
  } else {
    meta.erase("namespace");
  }
  if (auto s = CheckAnnotations(kind, object); !s.ok()) return s;
  for (const char* f : {"resourceVersion", "deletionTimestamp", "selfLink"}) meta.erase(f);
  meta["uid"] = Uid();
  meta["creationTimestamp"] = Now();
  meta["generation"] = 1;
  if (kind.status_subresource) object.erase("status");
  DefaultStatus(kind, object);
  std::string key = ObjectKey(meta.value("namespace", ""), name);
  object = Present(kind, std::move(object));
  std::string resource = kind.GroupResource();
  auto stored = store_.Write(
      kind.StoreKey(), key,
      [&](const json* current) -> absl::StatusOr<std::optional<json>> {
        if (current)
          return ApiError(409, "AlreadyExists",
                          absl::StrCat(resource, " \"", name, "\" already exists"),
                          {{"name", name}, {"group", kind.group}, {"kind", kind.resource}});
        return object;
      },
      dry_run);
  if (!stored.ok()) return stored.status();
  return Present(kind, *stored);
}

absl::StatusOr<json> Resources::Get(const Kind& kind, const std::string& ns,
                                    const std::string& name) const {
  auto object = store_.Get(kind.StoreKey(), ObjectKey(kind.namespaced ? ns : "", name));
  if (!object) return NotFound(kind.GroupResource(), name);
  return Present(kind, *object);
}

absl::StatusOr<json> Resources::List(const Kind& kind, const std::string& ns,
                                     const Query& query) const {
  auto labels = LabelSelector(Param(query, "labelSelector"));
  if (!labels.ok()) return labels.status();
  auto fields = FieldSelector(Param(query, "fieldSelector"));
  if (!fields.ok()) return fields.status();
  ContinueToken from;
  std::string cont = Param(query, "continue");
  if (!cont.empty()) {
    auto token = DecodeContinue(cont);
    if (!token.ok()) return token.status();
    if (token->rv < store_.CompactedAt()) {
      return ApiError(410, "Expired",
                      "The provided continue parameter is too old to display a consistent list "
                      "result. You can start a new list without the continue parameter.");
    }
    from = *token;
  }
  size_t limit = 0;
  if (std::string l = Param(query, "limit"); !l.empty()) limit = std::stoul(l);
  uint64_t head;
  std::string prefix = kind.namespaced && !ns.empty() ? ns + "/" : "";
  std::string after = !from.start.empty() ? from.start : prefix;
  json items = json::array();
  std::string last;
  size_t remaining = 0;
  // Only the page's objects are copied; those after it are only counted.
  store_.Visit(kind.StoreKey(), &head, after, [&](const std::string& key, const json& stored) {
    if (!prefix.empty() && !key.starts_with(prefix)) return false;
    if (!labels->Matches(stored) || !fields->Matches(stored)) return true;
    if (limit && items.size() == limit) {
      ++remaining;
      return true;
    }
    last = key;
    json o = stored;
    if (kind.builtin) {
      o.erase("apiVersion");
      o.erase("kind");
    } else {
      o = Present(kind, std::move(o));
    }
    items.push_back(std::move(o));
    return true;
  });
  uint64_t rv = cont.empty() ? head : from.rv;
  json meta = {{"resourceVersion", std::to_string(rv)}};
  if (remaining) {
    meta["continue"] = EncodeContinue({rv, last});
    meta["remainingItemCount"] = remaining;
  }
  return json{{"kind", kind.kind + "List"},
              {"apiVersion", kind.GroupVersion()},
              {"metadata", meta},
              {"items", items}};
}

absl::StatusOr<json> Resources::Replace(const Kind& kind, const std::string& ns,
                                        const std::string& name, const MakeBody& make_body,
                                        bool status_only, bool dry_run) {
  std::string resource = kind.GroupResource();
  auto stored = store_.Write(
      kind.StoreKey(), ObjectKey(kind.namespaced ? ns : "", name),
      [&](const json* current) -> absl::StatusOr<std::optional<json>> {
        if (!current) return NotFound(resource, name);
        auto body = make_body(*current);
        if (!body.ok()) return body.status();
        if (!body->is_object() || !(*body)["metadata"].is_object())
          return ApiError(400, "BadRequest", "the body is not an object with metadata");
        json& meta = (*body)["metadata"];
        if (meta.value("name", name) != name) {
          return ApiError(400, "BadRequest",
                          absl::StrCat("the name of the object (", meta.value("name", ""),
                                       ") does not match the name on the URL (", name, ")"));
        }
        std::string want_rv = meta.value("resourceVersion", "");
        if (!want_rv.empty() && want_rv != (*current)["metadata"].value("resourceVersion", ""))
          return Conflict(resource, name);
        json next = *current;
        if (status_only) {
          if (body->contains("status"))
            next["status"] = (*body)["status"];
          else
            next.erase("status");
          return next;
        }
        next = std::move(*body);
        for (const char* f : {"uid", "creationTimestamp", "namespace", "name", "generation"}) {
          if ((*current)["metadata"].contains(f)) next["metadata"][f] = (*current)["metadata"][f];
        }
        if (kind.status_subresource) {
          if (current->contains("status"))
            next["status"] = (*current)["status"];
          else
            next.erase("status");
        }
        if (SpecPart(next) != SpecPart(*current))
          next["metadata"]["generation"] = (*current)["metadata"].value("generation", 0) + 1;
        if (auto s = CheckAnnotations(kind, next); !s.ok()) return s;
        return Present(kind, std::move(next));
      },
      dry_run);
  if (!stored.ok()) return stored.status();
  return Present(kind, *stored);
}

absl::StatusOr<json> Resources::Update(const Kind& kind, const std::string& ns,
                                       const std::string& name, json object, bool status_only,
                                       bool dry_run) {
  return Replace(
      kind, ns, name, [&](const json&) { return object; }, status_only, dry_run);
}

absl::StatusOr<json> Resources::Patch(const Kind& kind, const std::string& ns,
                                      const std::string& name, const std::string& content_type,
                                      const json& patch, bool status_only, bool dry_run) {
  bool strategic = content_type == "application/strategic-merge-patch+json";
  bool json_patch = content_type == "application/json-patch+json";
  if (content_type != "application/merge-patch+json" && !json_patch &&
      !(strategic && kind.builtin)) {
    return ApiError(
        415, "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types "
        "include: application/json-patch+json, application/merge-patch+json" +
            std::string(kind.builtin ? ", application/strategic-merge-patch+json" : ""));
  }
  if (json_patch ? !patch.is_array() : !patch.is_object()) {
    return ApiError(400, "BadRequest",
                    json_patch ? "a JSON patch (RFC 6902) is a list of operations"
                               : "the patch is not a JSON object");
  }
  // Only a resourceVersion the patch itself names is a precondition.
  bool names_version =
      json_patch ? std::any_of(patch.begin(), patch.end(),
                               [](const json& op) {
                                 return op.is_object() &&
                                        op.value("path", "") == "/metadata/resourceVersion";
                               })
                 : patch.contains("metadata") && patch["metadata"].contains("resourceVersion");
  return Replace(
      kind, ns, name,
      [&](const json& current) -> absl::StatusOr<json> {
        json next;
        if (json_patch) {
          try {
            next = current.patch(patch);
          } catch (const json::exception& e) {
            return ApiError(422, "Invalid",
                            absl::StrCat("the JSON patch could not be applied: ", e.what()));
          }
        } else {
          next = strategic ? StrategicMergePatch(current, patch) : MergePatch(current, patch);
        }
        if (!names_version)
          next["metadata"]["resourceVersion"] = current["metadata"].value("resourceVersion", "");
        return next;
      },
      status_only, dry_run);
}

void Resources::DeleteAll(const std::string& store_key, const std::string& ns) {
  uint64_t head;
  for (const json& o : store_.List(store_key, &head)) {
    std::string o_ns = o["metadata"].value("namespace", "");
    if (!ns.empty() && o_ns != ns) continue;
    store_
        .Write(store_key, ObjectKey(o_ns, o["metadata"].value("name", "")),
               [](const json*) -> absl::StatusOr<std::optional<json>> { return std::nullopt; })
        .IgnoreError();
  }
}

absl::StatusOr<json> Resources::Delete(const Kind& kind, const std::string& ns,
                                       const std::string& name, const json& options) {
  std::string resource = kind.GroupResource();
  json pre = options.is_object() ? options.value("preconditions", json::object()) : json::object();
  auto deleted = store_.Write(kind.StoreKey(), ObjectKey(kind.namespaced ? ns : "", name),
                              [&](const json* current) -> absl::StatusOr<std::optional<json>> {
                                if (!current) return NotFound(resource, name);
                                const json& meta = (*current)["metadata"];
                                if ((pre.contains("resourceVersion") &&
                                     pre["resourceVersion"] != meta["resourceVersion"]) ||
                                    (pre.contains("uid") && pre["uid"] != meta["uid"]))
                                  return Conflict(resource, name);
                                return std::nullopt;
                              });
  if (!deleted.ok()) return deleted.status();
  // Immediate, without the Terminating phase of the real namespace and CRD finalizers.
  if (kind.StoreKey() == kNamespaceKey) {
    for (const std::string& key : store_.StoreKeys()) DeleteAll(key, name);
  }
  if (kind.StoreKey() == kCrdKey) DeleteAll(CrdStoreKey(*deleted), "");
  return Present(kind, *deleted);
}

}  // namespace xgate::kubetest
