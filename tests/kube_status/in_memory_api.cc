#include "tests/kube_status/in_memory_api.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace xgate::kube::testing {
namespace {

using nlohmann::json;

Response Answer(long code, const json& body) { return Response{code, body.dump(), {}}; }

Response Failure(long code, const std::string& reason, const std::string& message) {
  return Answer(code, {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"status", "Failure"},
                       {"reason", reason},
                       {"message", message},
                       {"code", code}});
}

// Whether `path` names an object of the collection `list` ("<prefix>/<plural>", or
// "<prefix>/namespaces/<ns>/<plural>"): "<list>/<name>", or for a list of all namespaces
// "<prefix>/namespaces/<any>/<plural>/<name>".
bool InCollection(absl::string_view path, absl::string_view list) {
  return absl::ConsumePrefix(&path, list) && absl::ConsumePrefix(&path, "/") && !path.empty() &&
         path.find('/') == absl::string_view::npos;
}
bool InAllNamespaces(absl::string_view path, absl::string_view list) {
  size_t slash = list.rfind('/');
  if (slash == absl::string_view::npos) return false;
  absl::string_view prefix = list.substr(0, slash), plural = list.substr(slash + 1);
  if (!absl::ConsumePrefix(&path, prefix) || !absl::ConsumePrefix(&path, "/namespaces/")) {
    return false;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  return parts.size() == 3 && !parts[0].empty() && parts[1] == plural && !parts[2].empty();
}

// Leases have no status subresource; the Gateway API kinds do.
bool HasStatusSubresource(const std::string& path) {
  return absl::StrContains(path, "/apis/gateway.networking.k8s.io/");
}

}  // namespace

absl::StatusOr<Response> InMemoryApi::Get(const std::string& path) {
  std::lock_guard lock(mu_);
  if (!reachable_) return absl::UnavailableError("connection refused");
  ++calls_["GET"];
  auto it = objects_.find(path);
  if (it == objects_.end()) return Failure(404, "NotFound", path + " not found");
  return Answer(200, it->second);
}

// A continue token is "<generation>:<the last path answered>".
absl::StatusOr<Response> InMemoryApi::List(const std::string& path, const ListOptions& options) {
  Response page;
  std::function<void(const Response&)> hook;
  {
    std::lock_guard lock(mu_);
    if (!reachable_) return absl::UnavailableError("connection refused");
    ++calls_["LIST"];
    hook = after_list_;
    if (list_failure_ != 0) {
      page = Failure(list_failure_, "InternalError", "list " + path + " failed");
    } else {
      std::string after;
      bool expired = false;
      if (!options.continue_token.empty()) {
        std::pair<absl::string_view, absl::string_view> token =
            absl::StrSplit(options.continue_token, absl::MaxSplits(':', 1));
        int64_t generation = -1;
        expired = !absl::SimpleAtoi(token.first, &generation) || generation != token_generation_;
        after = std::string(token.second);
      }
      if (expired) {
        page = Failure(410, "Expired", "the provided continue parameter is too old");
      } else {
        const bool all_namespaces = !absl::StrContains(path, "/namespaces/");
        json items = json::array();
        std::string last;
        bool more = false;
        for (auto it = after.empty() ? objects_.begin() : objects_.upper_bound(after);
             it != objects_.end(); ++it) {
          if (!InCollection(it->first, path) &&
              !(all_namespaces && InAllNamespaces(it->first, path))) {
            continue;
          }
          if (options.limit > 0 && static_cast<int64_t>(items.size()) == options.limit) {
            more = true;
            break;
          }
          items.push_back(it->second);
          last = it->first;
        }
        json meta = {{"resourceVersion", std::to_string(resource_version_)}};
        if (more) meta["continue"] = absl::StrCat(token_generation_, ":", last);
        page = Answer(200, {{"kind", "List"},
                            {"apiVersion", "v1"},
                            {"metadata", meta},
                            {"items", std::move(items)}});
      }
    }
  }
  if (hook) hook(page);
  return page;
}

absl::StatusOr<Response> InMemoryApi::Create(const std::string& path, const json& object) {
  return Write("POST", path, object, false);
}

absl::StatusOr<Response> InMemoryApi::Update(const std::string& path, const json& object) {
  return Write("PUT", path, object, false);
}

absl::StatusOr<Response> InMemoryApi::UpdateStatus(const std::string& path, const json& object) {
  return Write("PUT status", path, object, true);
}

absl::StatusOr<Response> InMemoryApi::Write(const std::string& method, const std::string& path,
                                            const json& object, bool status_only) {
  std::function<void(const std::string&, const std::string&)> hook;
  {
    std::lock_guard lock(mu_);
    if (!reachable_) return absl::UnavailableError("connection refused");
    hook = before_write_;
  }
  if (hook) hook(method, path);

  std::lock_guard lock(mu_);
  ++calls_[method];
  if (method == "POST") {
    std::string target = absl::StrCat(path, "/", object["metadata"]["name"].get<std::string>());
    if (objects_.count(target)) return Failure(409, "AlreadyExists", target + " already exists");
    json created = object;
    created["metadata"]["generation"] = 1;
    if (HasStatusSubresource(target)) created.erase("status");
    return Store(target, std::move(created));
  }
  auto it = objects_.find(path);
  if (it == objects_.end()) return Failure(404, "NotFound", path + " not found");
  const json& stored = it->second;
  std::string sent_version = object["metadata"].value("resourceVersion", "");
  if (!sent_version.empty() && sent_version != stored["metadata"]["resourceVersion"]) {
    return Failure(409, "Conflict",
                   "Operation cannot be fulfilled: the object has been modified; please apply "
                   "your changes to the latest version and try again");
  }
  json next = stored;
  if (status_only) {
    next["status"] = object.value("status", json::object());
  } else {
    next = object;
    next["metadata"]["generation"] = stored["metadata"]["generation"];
    if (object.value("spec", json()) != stored.value("spec", json())) {
      next["metadata"]["generation"] = stored["metadata"]["generation"].get<int64_t>() + 1;
    }
    if (HasStatusSubresource(path)) {
      next.erase("status");
      if (stored.contains("status")) next["status"] = stored["status"];
    }
  }
  return Store(path, std::move(next));
}

Response InMemoryApi::Store(const std::string& path, json object) {
  object["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
  objects_[path] = object;
  return Answer(200, object);
}

void InMemoryApi::Put(const std::string& path, json object) {
  std::lock_guard lock(mu_);
  if (!object["metadata"].contains("generation")) object["metadata"]["generation"] = 1;
  Store(path, std::move(object));
}

void InMemoryApi::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  objects_.erase(path);
}

json InMemoryApi::Object(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  return it == objects_.end() ? json() : it->second;
}

void InMemoryApi::SetReachable(bool reachable) {
  std::lock_guard lock(mu_);
  reachable_ = reachable;
}

void InMemoryApi::SetBeforeWrite(std::function<void(const std::string&, const std::string&)> f) {
  std::lock_guard lock(mu_);
  before_write_ = std::move(f);
}

void InMemoryApi::SetListFailure(long code) {
  std::lock_guard lock(mu_);
  list_failure_ = code;
}

void InMemoryApi::ExpireContinueTokens() {
  std::lock_guard lock(mu_);
  ++token_generation_;
}

void InMemoryApi::SetAfterList(std::function<void(const Response&)> f) {
  std::lock_guard lock(mu_);
  after_list_ = std::move(f);
}

int InMemoryApi::Calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

absl::StatusOr<Response> CountingApi::Get(const std::string& path) { return server_.Get(path); }

absl::StatusOr<Response> CountingApi::List(const std::string& path, const ListOptions& options) {
  return server_.List(path, options);
}

absl::StatusOr<Response> CountingApi::Create(const std::string& path, const json& object) {
  return server_.Create(path, object);
}

absl::StatusOr<Response> CountingApi::Update(const std::string& path, const json& object) {
  return server_.Update(path, object);
}

absl::StatusOr<Response> CountingApi::UpdateStatus(const std::string& path, const json& object) {
  ++status_writes_;
  return server_.UpdateStatus(path, object);
}

}  // namespace xgate::kube::testing
