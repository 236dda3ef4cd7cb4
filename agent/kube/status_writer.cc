#include "agent/kube/status_writer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/kube/status_merge.h"
#include "agent/model/json_text.h"
#include "agent/sources/kube/kube_source.h"
#include "agent/status/status.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

using nlohmann::json;

// Writes of one object that end in 409 before giving up until the next Write.
constexpr int kMaxConflicts = 5;
// A sweep's LIST: objects per page, and how many times a list whose continue token expired
// (410) is started over before its kind is read by GET.
constexpr int64_t kListPageSize = 500;
constexpr int kMaxListRestarts = 3;

bool Always(const json&) { return true; }

// Whether status.parents (routes) or status.ancestors (policies) has an entry of `controller`.
bool HasEntryOf(const json& status, const std::string& controller, const char* list) {
  auto it = status.is_object() ? status.find(list) : status.end();
  if (!status.is_object() || it == status.end() || !it->is_array()) return false;
  for (const json& entry : *it) {
    if (entry.is_object() && entry.value("controllerName", "") == controller) return true;
  }
  return false;
}

// `status` printed compactly without the conditions' lastTransitionTime, which a bind stamps
// anew and a merge keeps from the server when the condition did not change.
void AppendPrint(const json& status, std::string& out) {
  if (status.is_object()) {
    out += '{';
    for (const auto& [k, v] : status.items()) {
      if (k == "lastTransitionTime") continue;
      out += json(k).dump();
      out += ':';
      AppendPrint(v, out);
      out += ',';
    }
    out += '}';
  } else if (status.is_array()) {
    out += '[';
    for (const json& v : status) {
      AppendPrint(v, out);
      out += ',';
    }
    out += ']';
  } else {
    out += status.dump();
  }
}

// The first line of a StatusPrint: `key`'s object (its uid and creation time), "" when absent.
std::string Identity(const model::Store& store, const model::ObjectKey& key) {
  std::string out;
  if (const model::Object* obj = store.Find(key); obj != nullptr && obj->raw.is_object()) {
    absl::StrAppend(&out, obj->meta.uid, "/", obj->meta.creation_timestamp);
  }
  out += '\n';
  return out;
}

// What identifies `ours` on `key`'s object: the object's uid (one deleted and created again
// has no status) and ours printed.
std::string StatusPrint(const model::Store& store, const model::ObjectKey& key, const json& ours) {
  std::string out = Identity(store, key);
  AppendPrint(ours, out);
  return out;
}

template <typename Routes>
void AddRouteKeys(const Routes& routes, model::Kind kind, std::set<model::ObjectKey>& keys) {
  for (const auto& [key, route] : routes) keys.insert({kind, key.first, key.second});
}

}  // namespace

std::map<model::Kind, Resource> StatusResources(const std::vector<KindState>& kinds) {
  std::map<model::Kind, Resource> resources;
  for (model::Kind kind :
       {model::Kind::kGatewayClass, model::Kind::kGateway, model::Kind::kHTTPRoute,
        model::Kind::kTCPRoute, model::Kind::kUDPRoute, model::Kind::kTLSRoute,
        model::Kind::kGRPCRoute, model::Kind::kBackendTLSPolicy, model::Kind::kListenerSet}) {
    const std::string name = model::KindName(kind);
    auto state = std::find_if(kinds.begin(), kinds.end(),
                              [&name](const KindState& k) { return k.kind == name; });
    auto watched = std::find_if(WatchedKinds().begin(), WatchedKinds().end(),
                                [&name](const WatchedKind& k) { return k.kind == name; });
    if (state == kinds.end() || watched == WatchedKinds().end()) continue;
    const std::string prefix = watched->group + "/";
    if (!state->api_version.starts_with(prefix)) continue;  // "" while not served
    resources[kind] = Resource{watched->group, state->api_version.substr(prefix.size()),
                               watched->plural, watched->namespaced};
  }
  return resources;
}

StatusWriter::StatusWriter(Api& api, std::map<model::Kind, Resource> resources, Reader reader)
    : api_(api), reader_(std::move(reader)), resources_(std::move(resources)) {}

void StatusWriter::SetResources(std::map<model::Kind, Resource> resources) {
  std::lock_guard lock(mu_);
  if (resources == resources_) return;
  resources_ = std::move(resources);
  confirmed_.clear();  // a kind served anew (or at another version) is written
}

void StatusWriter::SweepAllRoutes() {
  std::lock_guard lock(mu_);
  sweep_all_routes_ = true;
  confirmed_.clear();
}

StatusWriteCounters StatusWriter::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void StatusWriter::Count(uint64_t StatusWriteCounters::*field) {
  std::lock_guard lock(mu_);
  ++(counters_.*field);
}

absl::StatusOr<std::optional<json>> StatusWriter::Read(const Resource& resource,
                                                       const model::ObjectKey& key) {
  Count(&StatusWriteCounters::read_get);
  absl::StatusOr<Response> got = api_.Get(resource.Path(key.ns, key.name));
  if (!got.ok()) return got.status();
  if (got->code == 404) return std::nullopt;
  if (!got->ok()) return ToStatus(*got);
  json object = got->Json();
  if (!object.is_object()) {
    return absl::InternalError(absl::StrCat(key.ToString(), ": the answer is not an object"));
  }
  return object;
}

void StatusWriter::ListRoutes(const std::set<model::ObjectKey>& routes) {
  if (reader_) return;  // reads are answered without a call already
  std::map<model::Kind, Resource> resources;
  {
    std::lock_guard lock(mu_);
    resources = resources_;
    listed_.clear();
  }
  for (const auto& [kind, resource] : resources) {
    if (!IsRouteKind(kind)) continue;
    auto first = routes.lower_bound({kind, "", ""});
    if (first == routes.end() || first->kind != kind) continue;  // none to read
    std::map<model::ObjectKey, std::string> objects;
    absl::Status listed = ListKind(kind, resource, routes, objects);
    if (!listed.ok()) {
      Count(&StatusWriteCounters::list_errors);
      spdlog::warn("status: list {}: {}; reading its routes one by one", resource.Path(),
                   std::string(listed.message()));
      continue;
    }
    std::lock_guard lock(mu_);
    listed_.merge(objects);
  }
}

absl::Status StatusWriter::ListKind(model::Kind kind, const Resource& resource,
                                    const std::set<model::ObjectKey>& routes,
                                    std::map<model::ObjectKey, std::string>& out) {
  const std::string path = resource.Path();
  ListOptions options;
  options.limit = kListPageSize;
  // A string field of `object` ("" when absent or not a string: a page is never thrown at).
  auto text = [](const json& object, const char* field) {
    auto it = object.find(field);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (int restarts = 0;;) {
    if (pacer_) pacer_();
    absl::StatusOr<Response> page = api_.List(path, options);
    if (!page.ok()) return page.status();
    if (page->code == 410 && !options.continue_token.empty() && restarts++ < kMaxListRestarts) {
      spdlog::info("status: list {}: continue token expired; listing again", path);
      out.clear();
      options.continue_token.clear();
      continue;
    }
    if (!page->ok()) return ToStatus(*page);
    Count(&StatusWriteCounters::list_pages);
    json body = page->Json();
    auto items = body.is_object() ? body.find("items") : body.end();
    if (!body.is_object() || items == body.end() || !items->is_array()) {
      return absl::InternalError("the answer is not a list");
    }
    for (json& item : *items) {
      if (!item.is_object() || !item.contains("metadata") || !item["metadata"].is_object()) {
        continue;
      }
      json& meta = item["metadata"];
      model::ObjectKey key{kind, text(meta, "namespace"), text(meta, "name")};
      if (!routes.contains(key)) continue;
      // What a GET answers: a list's items have no kind or apiVersion of their own. Their
      // managedFields are left out (a PUT without them keeps the server's): they are most of
      // a route's metadata, and a sweep holds every route until it is written.
      item["apiVersion"] = resource.ApiVersion();
      item["kind"] = model::KindName(kind);
      meta.erase("managedFields");
      out[std::move(key)] = model::CompactJson(item);
    }
    std::string next;
    if (auto meta = body.find("metadata"); meta != body.end() && meta->is_object()) {
      next = text(*meta, "continue");
    }
    if (next.empty()) return absl::OkStatus();
    options.continue_token = std::move(next);
  }
}

std::optional<json> StatusWriter::TakeListed(const model::ObjectKey& key) {
  std::string text;
  {
    std::lock_guard lock(mu_);
    auto node = listed_.extract(key);
    if (node.empty()) return std::nullopt;
    ++counters_.read_listed;
    text = std::move(node.mapped());
  }
  return model::ParseJson(text);
}

absl::Status StatusWriter::WriteIfChanged(const model::Store& store, const model::ObjectKey& key,
                                          const json& ours, const Merge& merge,
                                          const OursIn& ours_in, std::set<model::ObjectKey>& seen,
                                          std::shared_ptr<const model::RouteStatus> from) {
  seen.insert(key);
  std::string print = StatusPrint(store, key, ours);
  const bool has_ours = ours_in(ours);
  {
    std::lock_guard lock(mu_);
    auto it = confirmed_.find(key);
    if (it != confirmed_.end() && it->second.print == print) {
      if (has_ours) ++counters_.skipped_unchanged;
      it->second.from = std::move(from);
      it->second.ours = has_ours;
      return absl::OkStatus();
    }
    if (it != confirmed_.end()) confirmed_.erase(it);
  }
  bool confirmed = false;
  absl::Status result = WriteOne(key, ours, merge, ours_in, confirmed);
  if (confirmed) {
    std::lock_guard lock(mu_);
    confirmed_[key] = Confirmed{std::move(print), std::move(from), has_ours};
  }
  return result;
}

bool StatusWriter::SkipUnchanged(const model::Store& store, const model::ObjectKey& key,
                                 const std::shared_ptr<const model::RouteStatus>& status) {
  std::lock_guard lock(mu_);
  auto it = confirmed_.find(key);
  if (it == confirmed_.end() || it->second.from == nullptr || it->second.from != status ||
      !it->second.print.starts_with(Identity(store, key))) {
    return false;
  }
  if (it->second.ours) ++counters_.skipped_unchanged;
  return true;
}

absl::Status StatusWriter::WriteOne(const model::ObjectKey& key, const json& ours,
                                    const Merge& merge, const OursIn& ours_in, bool& confirmed,
                                    std::optional<json>* written_status) {
  if (written_status != nullptr) written_status->reset();
  std::optional<Resource> resource;
  {
    std::lock_guard lock(mu_);
    auto it = resources_.find(key.kind);
    if (it != resources_.end()) resource = it->second;
  }
  if (!resource) return absl::OkStatus();  // the kind is not served

  for (int conflicts = 0; conflicts <= kMaxConflicts; ++conflicts) {
    if (pacer_) pacer_();
    // After a 409 the list or the cache (if any) is behind: ask the server itself.
    absl::StatusOr<std::optional<json>> current = conflicts == 0 ? TakeListed(key) : std::nullopt;
    if (!*current) {  // not listed
      current = conflicts == 0 && reader_ ? reader_(*resource, key) : Read(*resource, key);
    }
    if (!current.ok()) {
      Count(&StatusWriteCounters::error);
      return absl::Status(current.status().code(),
                          absl::StrCat(key.ToString(), ": ", current.status().message()));
    }
    if (!*current) {  // deleted meanwhile
      std::lock_guard lock(mu_);
      routes_with_ours_.erase(key);
      return absl::OkStatus();
    }
    json& object = **current;
    json current_status = object.value("status", json());
    json merged = merge(current_status, ours);
    bool ours = ours_in(current_status) || ours_in(merged);
    if (IsRouteKind(key.kind)) {
      std::lock_guard lock(mu_);
      if (ours_in(merged)) {
        routes_with_ours_.insert(key);
      } else {
        routes_with_ours_.erase(key);
      }
    }
    if (SameStatus(current_status, merged)) {
      if (ours) Count(&StatusWriteCounters::skipped_unchanged);
      confirmed = true;
      if (written_status != nullptr) *written_status = std::move(current_status);
      return absl::OkStatus();
    }
    object["status"] = merged;
    absl::StatusOr<Response> written = api_.UpdateStatus(resource->Path(key.ns, key.name), object);
    if (written.ok() && written->code == 409) {
      Count(&StatusWriteCounters::conflict);
      spdlog::debug("status of {}: changed since read (409); reading again", key.ToString());
      continue;
    }
    if (written.ok() && written->code == 404) return absl::OkStatus();  // deleted meanwhile
    absl::Status result = written.ok() ? ToStatus(*written) : written.status();
    if (!result.ok()) {
      Count(&StatusWriteCounters::error);
      return absl::Status(result.code(),
                          absl::StrCat("status of ", key.ToString(), ": ", result.message()));
    }
    Count(&StatusWriteCounters::ok);
    spdlog::debug("status of {} written", key.ToString());
    confirmed = true;
    if (written_status != nullptr) *written_status = std::move(merged);
    return absl::OkStatus();
  }
  Count(&StatusWriteCounters::error);
  return absl::AbortedError(
      absl::StrCat("status of ", key.ToString(), ": 409 on ", kMaxConflicts + 1, " writes"));
}

absl::Status StatusWriter::Write(const model::Store& store, const binder::Statuses& statuses) {
  absl::Status first_error;
  auto keep = [&first_error](absl::Status status) {
    if (!status.ok()) {
      spdlog::warn("{}", std::string(status.message()));
      if (first_error.ok()) first_error = std::move(status);
    }
  };

  std::set<model::ObjectKey> seen;  // the objects this Write had status for
  auto write = [&](const model::ObjectKey& key, const json& ours, const Merge& merge,
                   const OursIn& ours_in) {
    return WriteIfChanged(store, key, ours, merge, ours_in, seen);
  };
  for (const auto& [key, status] : statuses.gateway_classes) {
    keep(write({model::Kind::kGatewayClass, key.first, key.second},
               status::GatewayClassStatusJson(status), MergeGatewayClassStatus, Always));
  }
  for (const auto& [key, status] : statuses.gateways) {
    keep(write({model::Kind::kGateway, key.first, key.second}, status::GatewayStatusJson(status),
               MergeGatewayStatus, Always));
  }
  bool sweep;
  std::set<model::ObjectKey> routes;
  {
    std::lock_guard lock(mu_);
    sweep = std::exchange(sweep_all_routes_, false);
    routes = routes_with_ours_;
  }
  WriteListenerSets(store, statuses, sweep, keep);

  {
    std::lock_guard lock(mu_);
    if (sweep) {
      AddRouteKeys(store.http_routes, model::Kind::kHTTPRoute, routes);
      AddRouteKeys(store.tcp_routes, model::Kind::kTCPRoute, routes);
      AddRouteKeys(store.udp_routes, model::Kind::kUDPRoute, routes);
      AddRouteKeys(store.tls_routes, model::Kind::kTLSRoute, routes);
      AddRouteKeys(store.grpc_routes, model::Kind::kGRPCRoute, routes);
    }
  }
  for (const auto& [key, status] : statuses.routes) routes.insert(key);
  const auto start = std::chrono::steady_clock::now();
  const StatusWriteCounters before = counters();
  if (sweep) ListRoutes(routes);

  const std::string controller = model::kControllerName;
  auto ours_in = [&controller](const json& status) {
    return HasEntryOf(status, controller, "parents");
  };
  auto merge_route = [&controller](const json& current, const json& ours) {
    return MergeRouteStatus(current, ours, controller);
  };
  bool all_read = true;
  for (const model::ObjectKey& key : routes) {
    auto it = statuses.routes.find(key);
    // The very status object confirmed on the same object: nothing to print or compare.
    if (it != statuses.routes.end() && SkipUnchanged(store, key, it->second)) {
      seen.insert(key);
      continue;
    }
    json ours = it == statuses.routes.end() ? json{{"parents", json::array()}}
                                            : status::RouteStatusJson(*it->second);
    absl::Status result = WriteIfChanged(store, key, ours, merge_route, ours_in, seen,
                                         it == statuses.routes.end() ? nullptr : it->second);
    if (!result.ok()) all_read = false;
    keep(std::move(result));
  }
  if (sweep) {
    const StatusWriteCounters after = counters();
    spdlog::info(
        "status: sweep of {} routes: {} read from {} LIST pages, {} by GET, {} written ({} "
        "conflicts) in {} ms",
        routes.size(), after.read_listed - before.read_listed, after.list_pages - before.list_pages,
        after.read_get - before.read_get, after.ok - before.ok, after.conflict - before.conflict,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              start)
            .count());
  }
  {
    std::lock_guard lock(mu_);
    listed_.clear();                          // what no route of the store took
    if (!all_read) sweep_all_routes_ = true;  // so no route of a failed sweep is forgotten
  }

  // Every BackendTLSPolicy: ours where we have ancestors, and our stale ancestors dropped
  // (an unchanged status is not written).
  auto policy_ours_in = [&controller](const json& status) {
    return HasEntryOf(status, controller, "ancestors");
  };
  for (const auto& [k, policy] : store.backend_tls_policies) {
    model::ObjectKey key{model::Kind::kBackendTLSPolicy, k.first, k.second};
    auto it = statuses.policies.find(key);
    json ours = it == statuses.policies.end() ? json{{"ancestors", json::array()}}
                                              : status::PolicyStatusJson(it->second);
    keep(write(
        key, ours,
        [&controller](const json& current, const json& mine) {
          return MergePolicyStatus(current, mine, controller);
        },
        policy_ours_in));
  }
  // What this Write had no status for (deleted, or no longer ours) is not remembered.
  std::lock_guard lock(mu_);
  std::erase_if(confirmed_, [&seen](const auto& entry) { return !seen.contains(entry.first); });
  return first_error;
}

// ListenerSets whose parent is a Gateway of ours get our status. Their status has no
// controllerName to tell whose it is, so a ListenerSet that leaves our Gateways (its parentRef
// changed, its Gateway went to another class or away) is put back to the CRD's default only
// when the server still holds the status we wrote last: one another controller wrote since is
// its own. At a sweep (a new writer, a new Lease holder) there is no memory of what was
// written: a ListenerSet whose parent Gateway, or that Gateway's GatewayClass, does not exist
// has no controller, so whatever status it holds is reset.
void StatusWriter::WriteListenerSets(const model::Store& store, const binder::Statuses& statuses,
                                     bool sweep, const std::function<void(absl::Status)>& keep) {
  for (const auto& [key, status] : statuses.listener_sets) {
    json ours = status::ListenerSetStatusJson(status);
    std::optional<json> written;
    bool confirmed = false;
    keep(WriteOne({model::Kind::kListenerSet, key.first, key.second}, ours, MergeListenerSetStatus,
                  Always, confirmed, &written));
    std::lock_guard lock(mu_);
    if (written) {
      listener_sets_written_[key] = std::move(*written);
    } else {
      listener_sets_written_.erase(key);
    }
  }

  std::map<model::Store::Key, std::optional<json>> left;  // -> the status we wrote, if known
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, status] : listener_sets_written_) {
      if (!statuses.listener_sets.count(key)) left[key] = status;
    }
  }
  if (sweep) {
    for (const auto& [key, set] : store.listener_sets) {
      if (statuses.listener_sets.count(key) || left.count(key)) continue;
      const model::ParentGatewayReference& p = set.parent_ref;
      auto gateway = store.gateways.find({p.ns.value_or(key.first), p.name});
      bool orphan = p.group != model::kGatewayGroup || p.kind != "Gateway" ||
                    gateway == store.gateways.end() ||
                    !store.gateway_classes.contains({"", gateway->second.gateway_class_name});
      if (orphan) left[key] = std::nullopt;
    }
  }
  static const json kDefault = DefaultListenerSetStatus();
  for (const auto& [key, last] : left) {
    auto reset = [&last](const json& current, const json& ours) {
      if (last && !SameStatus(current, *last)) return current;  // another controller's now
      return MergeListenerSetStatus(current, ours);
    };
    bool confirmed = false;
    absl::Status result = WriteOne(
        {model::Kind::kListenerSet, key.first, key.second}, kDefault, reset,
        [](const json&) { return false; }, confirmed);
    if (result.ok()) {
      std::lock_guard lock(mu_);
      listener_sets_written_.erase(key);
    } else if (!last) {
      SweepAllRoutes();  // so the next Write tries it again
    }
    keep(std::move(result));
  }
}

}  // namespace xgate::kube
