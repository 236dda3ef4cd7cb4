#include "agent/sources/kube/kube_source.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

using nlohmann::json;

constexpr char kGatewayGroup[] = "gateway.networking.k8s.io";

std::string Meta(const json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const json& md = object["metadata"];
  return md.is_object() && md.contains(key) && md[key].is_string() ? md[key].get<std::string>()
                                                                   : "";
}

// "HTTPRoute/foo/foo-route" ("GatewayClass/xgate" when cluster-scoped): the store key, and
// the "file" of the object in load errors.
std::string KeyOf(const std::string& kind, const json& object) {
  std::string ns = Meta(object, "namespace");
  return ns.empty() ? absl::StrCat(kind, "/", Meta(object, "name"))
                    : absl::StrCat(kind, "/", ns, "/", Meta(object, "name"));
}

// What the pipeline needs of an object: without the fields that change on every write, and
// without its status, which no decode reads (the status the Lease holder writes must not look
// like a change to reconcile, nor be kept for each of 10,000 routes).
sources::Document ToDocument(const std::string& key, json object) {
  if (object.is_object()) {
    object.erase("status");
    if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
      md->erase("managedFields");
      md->erase("resourceVersion");
    }
  }
  return sources::Document{key, "", std::move(object)};
}

// Only TLS Secrets are read (the field selector asks the server for them; a server that does
// not filter is filtered here).
bool Wanted(const std::string& kind, const json& object) {
  return kind != "Secret" ||
         (object.is_object() && object.value("type", std::string()) == "kubernetes.io/tls");
}

}  // namespace

const std::vector<WatchedKind>& WatchedKinds() {
  static const std::vector<WatchedKind> kinds = {
      {"GatewayClass", kGatewayGroup, {"v1", "v1beta1"}, "gatewayclasses", false, ""},
      {"Gateway", kGatewayGroup, {"v1", "v1beta1"}, "gateways", true, ""},
      {"HTTPRoute", kGatewayGroup, {"v1", "v1beta1"}, "httproutes", true, ""},
      {"TLSRoute", kGatewayGroup, {"v1", "v1alpha3", "v1alpha2"}, "tlsroutes", true, ""},
      {"TCPRoute", kGatewayGroup, {"v1", "v1alpha3", "v1alpha2"}, "tcproutes", true, ""},
      {"UDPRoute", kGatewayGroup, {"v1", "v1alpha3", "v1alpha2"}, "udproutes", true, ""},
      {"GRPCRoute", kGatewayGroup, {"v1", "v1alpha2"}, "grpcroutes", true, ""},
      {"ReferenceGrant", kGatewayGroup, {"v1", "v1beta1"}, "referencegrants", true, ""},
      {"Namespace", "", {"v1"}, "namespaces", false, ""},
      {"Service", "", {"v1"}, "services", true, ""},
      {"EndpointSlice", "discovery.k8s.io", {"v1"}, "endpointslices", true, ""},
      {"Secret", "", {"v1"}, "secrets", true, "type=kubernetes.io/tls"},
      {"BackendTLSPolicy", kGatewayGroup, {"v1", "v1alpha3"}, "backendtlspolicies", true, ""},
      {"ConfigMap", "", {"v1"}, "configmaps", true, ""},  // BackendTLSPolicy CA bundles
      // v1 only (the v1.6 CRDs; the experimental x-k8s.io XListenerSet is another kind). A
      // cluster whose CRDs do not serve it is read without it, as any kind not served.
      {"ListenerSet", kGatewayGroup, {"v1"}, "listenersets", true, ""},
  };
  return kinds;
}

absl::StatusOr<std::map<std::string, std::string>> ServedVersions(
    Client& client, const std::string& group, const std::vector<WatchedKind>& kinds) {
  std::map<std::string, std::string> served;
  auto group_answer = client.Get(absl::StrCat("/apis/", group));
  if (!group_answer.ok()) return group_answer.status();
  if (group_answer->code == 404) return served;  // no CRD of the group installed
  if (!group_answer->ok()) return ToStatus(*group_answer);
  json versions = group_answer->Json();
  std::set<std::string> offered;
  if (versions.is_object() && versions.contains("versions") && versions["versions"].is_array()) {
    for (const auto& v : versions["versions"]) {
      if (v.is_object() && v.contains("version") && v["version"].is_string()) {
        offered.insert(v["version"].get<std::string>());
      }
    }
  }
  std::map<std::string, std::set<std::string>> resources;  // version -> plurals
  for (const std::string& version : offered) {
    auto answer = client.Get(absl::StrCat("/apis/", group, "/", version));
    if (!answer.ok()) return answer.status();
    if (answer->code == 404) continue;
    if (!answer->ok()) return ToStatus(*answer);
    json list = answer->Json();
    if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array()) continue;
    for (const auto& r : list["resources"]) {
      if (r.is_object() && r.contains("name") && r["name"].is_string()) {
        resources[version].insert(r["name"].get<std::string>());
      }
    }
  }
  for (const WatchedKind& k : kinds) {
    if (k.group != group) continue;
    for (const std::string& v : k.versions) {
      if (resources[v].count(k.plural)) {
        served[k.kind] = v;
        break;
      }
    }
  }
  return served;
}

KubeSource::KubeSource(Client& client, sources::ObjectStore& store, Options options)
    : client_(client), store_(store), options_(options) {}

KubeSource::~KubeSource() { Stop(); }

void KubeSource::Start() {
  discovery_ = std::thread([this] { DiscoveryLoop(); });
}

void KubeSource::Stop() {
  stop_.Stop();
  if (discovery_.joinable()) discovery_.join();
  std::map<std::string, Running> running;
  {
    std::lock_guard lock(mu_);
    running.swap(informers_);
  }
  for (auto& [kind, r] : running) r.stop->Stop();
  for (auto& [kind, r] : running) r.thread.join();
}

bool KubeSource::Discover() {
  auto gateway = ServedVersions(client_, kGatewayGroup, WatchedKinds());
  if (!gateway.ok()) {
    spdlog::warn("discovery of {}: {}", kGatewayGroup, std::string(gateway.status().message()));
    return false;
  }
  auto served_version = [&](const WatchedKind& k) -> std::string {
    if (k.group != kGatewayGroup) return k.versions.front();
    auto it = gateway->find(k.kind);
    return it == gateway->end() ? "" : it->second;
  };
  // Informers of a version no longer served (CRD deleted or upgraded) end before any new one
  // starts, so a stale list never lands after a fresh one.
  std::vector<Running> stale;
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    for (const WatchedKind& k : WatchedKinds()) {
      auto it = informers_.find(k.kind);
      if (it == informers_.end()) continue;
      std::string version = served_version(k);
      if (it->second.informer->resource().version == version) continue;
      if (version.empty()) {
        spdlog::warn(
            "{}.{} is no longer served (CRD deleted?): its objects are dropped until it is",
            k.plural, k.group);
        gone.push_back(k.kind);
      }
      stale.push_back(std::move(it->second));
      informers_.erase(it);
      listed_.erase(k.kind);
    }
  }
  for (Running& r : stale) r.stop->Stop();
  for (Running& r : stale) r.thread.join();
  for (const std::string& kind : gone) EraseKind(kind);

  std::lock_guard lock(mu_);
  for (const WatchedKind& k : WatchedKinds()) {
    if (informers_.count(k.kind)) continue;
    std::string version = served_version(k);
    if (version.empty()) {
      if (!discovered_) {
        spdlog::warn("{}.{} is not served (CRD not installed?): skipped until it is", k.plural,
                     k.group);
      }
      continue;
    }
    Resource resource{k.group, version, k.plural, k.namespaced};
    spdlog::info("reading {} as {}", k.kind, resource.ApiVersion());
    InformerSink& sink = *this;
    Running& r = informers_[k.kind];
    r.stop = std::make_unique<StopSignal>();
    r.informer = std::make_unique<Informer>(client_, resource, k.kind, sink, options_.informer,
                                            k.field_selector);
    r.thread =
        std::thread([informer = r.informer.get(), stop = r.stop.get()] { informer->Run(*stop); });
  }
  discovered_ = true;
  return true;
}

void KubeSource::DiscoveryLoop() {
  Backoff backoff(options_.informer.backoff);
  while (!stop_.stopped()) {
    bool ok = Discover();
    if (ok) backoff.Reset();
    auto wait = ok ? options_.discovery_interval : backoff.Next();
    if (stop_.WaitFor(wait)) return;
  }
}

size_t KubeSource::ListedCount(const std::string& kind) const {
  std::lock_guard lock(mu_);
  auto it = listed_.find(kind);
  return it == listed_.end() ? 0 : it->second;
}

bool KubeSource::Synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

std::vector<KindState> KubeSource::Kinds() const {
  std::lock_guard lock(mu_);
  std::vector<KindState> out;
  for (const WatchedKind& k : WatchedKinds()) {
    KindState s;
    s.kind = k.kind;
    if (auto it = informers_.find(k.kind); it != informers_.end()) {
      const Informer& informer = *it->second.informer;
      s.api_version = informer.resource().ApiVersion();
      s.synced = listed_.count(k.kind) > 0;
      s.watch_restarts = informer.watch_restarts();
      s.relists = informer.relists();
    }
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

void EraseKindFrom(std::map<std::string, sources::Document>& docs, const std::string& kind) {
  std::string prefix = kind + "/";
  for (auto it = docs.lower_bound(prefix); it != docs.end() && it->first.starts_with(prefix);) {
    it = docs.erase(it);
  }
}

}  // namespace

void KubeSource::EraseKind(const std::string& kind) {
  store_.Update(kKubeSource, [&](auto& docs) { EraseKindFrom(docs, kind); });
}

void KubeSource::Replace(const std::string& kind, std::vector<json> objects) {
  std::map<std::string, sources::Document> listed;
  const size_t count = objects.size();
  for (json& object : objects) {
    if (!Wanted(kind, object)) continue;
    std::string key = KeyOf(kind, object);
    listed[key] = ToDocument(key, std::move(object));
  }
  // An object the list returns unchanged keeps its revision, so it is not decoded again.
  store_.ReplacePrefix(kKubeSource, kind + "/", std::move(listed));
  // Before the first reconcile, each kind's list is decoded as it lands (here, in its
  // informer's thread), while the other kinds are still being listed: the first load then
  // only gathers what is decoded.
  if (!Synced()) store_.Predecode();
  bool now_synced = false;
  {
    std::lock_guard lock(mu_);
    listed_[kind] = count;
    if (!synced_ && discovered_ && listed_.size() == informers_.size()) {
      synced_ = now_synced = true;
    }
  }
  if (now_synced) {
    spdlog::info("every informer has synced: the first reconcile can run");
    store_.Update(kKubeSource, [](auto&) {});  // wakes the reconcile loop with synced set
  }
}

void KubeSource::Upsert(const std::string& kind, json object) {
  std::string key = KeyOf(kind, object);
  if (!Wanted(kind, object)) {  // e.g. a Secret whose type changed
    store_.Erase(kKubeSource, key);
    return;
  }
  store_.Put(kKubeSource, key, ToDocument(key, std::move(object)));
}

void KubeSource::Remove(const std::string& kind, const json& object) {
  store_.Erase(kKubeSource, KeyOf(kind, object));
}

}  // namespace xgate::kube
