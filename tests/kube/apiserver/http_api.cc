#include "tests/kube/apiserver/http_api.h"

#include <absl/strings/str_split.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "tests/kube/apiserver/api_status.h"
#include "tests/kube/apiserver/selectors.h"

namespace xgate::kubetest {

using nlohmann::json;

namespace {

void Reply(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& res, const absl::Status& status) {
  Reply(res, HttpCode(status), StatusBody(status));
}

template <typename T>
void ReplyWith(httplib::Response& res, const absl::StatusOr<T>& result, int ok_code = 200) {
  if (result.ok())
    Reply(res, ok_code, *result);
  else
    ReplyError(res, result.status());
}

// A request for a resource: /api/v1/... or /apis/GROUP/VERSION/...
struct ResourcePath {
  std::string group, version, ns, resource, name, subresource;
};

std::optional<ResourcePath> ParseResourcePath(const std::string& path) {
  std::vector<std::string> seg = absl::StrSplit(path, '/', absl::SkipEmpty());
  ResourcePath p;
  size_t i;
  if (seg.size() >= 3 && seg[0] == "api") {
    p.version = seg[1];
    i = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    p.group = seg[1];
    p.version = seg[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces" &&
      !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    p.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return std::nullopt;
  p.resource = rest[0];
  if (rest.size() > 1) p.name = rest[1];
  if (rest.size() > 2) p.subresource = rest[2];
  return p;
}

std::string Verb(const std::string& method, const ResourcePath& p, bool watch) {
  if (method == "GET") return watch ? "watch" : p.name.empty() ? "list" : "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return p.name.empty() ? "deletecollection" : "delete";
  return "";
}

bool IsTrue(const std::string& v) { return v == "1" || v == "true"; }

absl::Status NoSuchResource() {
  return ApiError(404, "NotFound", "the server could not find the requested resource");
}

// The OpenAPI v3 kubectl reads to learn that the server validates fields itself (the
// fieldValidation parameter of each resource's PATCH); no schemas, so kubectl validates nothing
// on the client and computes apply patches from its own types.
json OpenApiRoot(const std::vector<Kind>& kinds, uint64_t hash) {
  json paths = json::object();
  for (const Kind& k : kinds) {
    std::string gv = k.group.empty() ? "api/v1" : "apis/" + k.GroupVersion();
    paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + std::to_string(hash)}};
  }
  return {{"paths", paths}};
}

std::optional<json> OpenApiGroupVersion(const std::vector<Kind>& kinds,
                                        const std::string& gv_path) {
  json paths = json::object();
  for (const Kind& k : kinds) {
    std::string gv = k.group.empty() ? "api/v1" : "apis/" + k.GroupVersion();
    if (gv != gv_path) continue;
    std::string base =
        "/" + gv + (k.namespaced ? "/namespaces/{namespace}/" : "/") + k.resource + "/{name}";
    json gvk = {{"group", k.group}, {"version", k.version}, {"kind", k.kind}};
    json params = json::array(
        {{{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}}});
    json op = {{"x-kubernetes-group-version-kind", gvk},
               {"parameters", params},
               {"responses", {{"200", {{"description", "OK"}}}}}};
    paths[base] = {{"patch", op}, {"put", op}};
  }
  if (paths.empty()) return std::nullopt;
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "xgate-test-apiserver"}, {"version", "v1.32.0"}}},
              {"paths", paths}};
}

}  // namespace

void HttpApi::Register(httplib::Server& server) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr e) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        spdlog::error("{} {}: {}", req.method, req.path, what);
        ReplyError(res, ApiError(500, "InternalError", "an error on the server: " + what));
      });
}

bool HttpApi::Discovery(const std::string& path, httplib::Response& res) {
  auto kinds = resources_.Kinds();
  std::vector<std::string> seg = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (path == "/api") {
    Reply(res, 200, ApiVersions(options_.server_address));
  } else if (path == "/api/v1") {
    Reply(res, 200, *ApiResourceList(kinds, "v1"));
  } else if (path == "/apis") {
    Reply(res, 200, ApiGroupList(kinds));
  } else if (seg.size() == 2 && seg[0] == "apis") {
    auto g = ApiGroup(kinds, seg[1]);
    g ? Reply(res, 200, *g) : ReplyError(res, NoSuchResource());
  } else if (seg.size() == 3 && seg[0] == "apis") {
    auto list = ApiResourceList(kinds, seg[1] + "/" + seg[2]);
    list ? Reply(res, 200, *list) : ReplyError(res, NoSuchResource());
  } else if (path == "/version") {
    Reply(res, 200,
          {{"major", "1"},
           {"minor", "32"},
           {"gitVersion", "v1.32.0-xgate-test"},
           {"platform", "linux/amd64"}});
  } else if (path == "/openapi/v3") {
    Reply(res, 200, OpenApiRoot(kinds, kinds.size()));
  } else if (path.rfind("/openapi/v3/", 0) == 0) {
    auto doc = OpenApiGroupVersion(kinds, path.substr(std::string("/openapi/v3/").size()));
    doc ? Reply(res, 200, *doc) : ReplyError(res, NoSuchResource());
  } else {
    return false;
  }
  return true;
}

void HttpApi::Handle(const httplib::Request& req, httplib::Response& res) {
  if (req.path == "/healthz" || req.path == "/readyz" || req.path == "/livez") {
    res.set_content("ok", "text/plain");
    return;
  }
  auto user = tokens_.Authenticate(req.get_header_value("Authorization"));
  if (!user.ok()) return ReplyError(res, user.status());
  Query query;
  for (const auto& [k, v] : req.params) query[k] = v;
  bool masters = std::count(user->groups.begin(), user->groups.end(), "system:masters") > 0;
  if (req.path == "/xgate-test/compact" && req.method == "POST") {
    if (!masters)
      return ReplyError(res, ApiError(403, "Forbidden", "compact: system:masters only"));
    store_.Compact();
    spdlog::info("history compacted at resourceVersion {}", store_.CompactedAt());
    return Reply(res, 200, {{"compactedAt", std::to_string(store_.CompactedAt())}});
  }
  // Discovery and OpenAPI: every authenticated user (the default system:discovery binding).
  if (req.method == "GET" && Discovery(req.path, res)) return;

  auto path = ParseResourcePath(req.path);
  if (!path) return ReplyError(res, NoSuchResource());
  bool watch = IsTrue(query["watch"]);
  RequestAttributes attrs{Verb(req.method, *path, watch),
                          path->group,
                          path->resource,
                          path->subresource,
                          path->ns,
                          path->name};
  if (auto s = Authorize(store_, *user, attrs); !s.ok()) {
    spdlog::info("403 {} {}: {}", req.method, req.path, std::string(s.message()));
    return ReplyError(res, s);
  }
  auto kind = resources_.Find(path->group, path->version, path->resource);
  if (!kind ||
      (!path->subresource.empty() &&
       !(path->subresource == "status" && kind->status_subresource)) ||
      (!kind->namespaced && !path->ns.empty())) {
    return ReplyError(res, NoSuchResource());
  }
  bool status_only = path->subresource == "status";
  bool dry_run = query["dryRun"] == "All";
  json body;
  std::string media = req.get_header_value("Content-Type");
  media = media.substr(0, media.find(';'));
  if (!req.body.empty() && media.find("json") == std::string::npos) {
    return ReplyError(res, ApiError(415, "UnsupportedMediaType",
                                    "the body of the request was in an unknown format - accepted "
                                    "media types include: application/json"));
  }
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return ReplyError(res, ApiError(400, "BadRequest", "the request body is not valid JSON"));
  }
  const std::string& m = req.method;
  if (m == "GET" && watch) return Watch(*kind, path->ns, path->name, query, res);
  if (m == "GET" && path->name.empty())
    return ReplyWith(res, resources_.List(*kind, path->ns, query));
  if (m == "GET") return ReplyWith(res, resources_.Get(*kind, path->ns, path->name));
  if (m == "POST" && path->name.empty() && !status_only)
    return ReplyWith(res, resources_.Create(*kind, path->ns, body, dry_run), 201);
  if (m == "PUT" && !path->name.empty())
    return ReplyWith(res,
                     resources_.Update(*kind, path->ns, path->name, body, status_only, dry_run));
  if (m == "PATCH" && !path->name.empty()) {
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    return ReplyWith(
        res, resources_.Patch(*kind, path->ns, path->name, type, body, status_only, dry_run));
  }
  if (m == "DELETE" && !path->name.empty() && !status_only)
    return ReplyWith(res, resources_.Delete(*kind, path->ns, path->name, body));
  ReplyError(res, ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource"));
}

namespace {

struct WatchState {
  uint64_t rv = 0;
  std::vector<json> initial;  // ADDED events for a watch without a resourceVersion
  bool bookmarks = false;
  std::chrono::steady_clock::time_point deadline, next_bookmark;
};

}  // namespace

void HttpApi::Watch(const Kind& kind, const std::string& ns, const std::string& name,
                    const Query& query, httplib::Response& res) {
  auto get = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  auto labels = LabelSelector(get("labelSelector"));
  std::string field_text = get("fieldSelector");
  if (!name.empty())
    field_text += (field_text.empty() ? "" : ",") + std::string("metadata.name=") + name;
  auto fields = FieldSelector(field_text);
  if (!labels.ok()) return ReplyError(res, labels.status());
  if (!fields.ok()) return ReplyError(res, fields.status());
  auto state = std::make_shared<WatchState>();
  std::string rv = get("resourceVersion");
  auto matches = [ns, kind, l = *labels, f = *fields](const json& o) {
    if (o.is_null()) return false;
    if (kind.namespaced && !ns.empty() && o["metadata"].value("namespace", "") != ns) return false;
    return l.Matches(o) && f.Matches(o);
  };
  if (rv.empty() || rv == "0") {
    for (json& o : store_.List(kind.StoreKey(), &state->rv))
      if (matches(o))
        state->initial.push_back({{"type", "ADDED"}, {"object", Resources::Present(kind, o)}});
  } else if (rv.find_first_not_of("0123456789") != std::string::npos) {
    return ReplyError(res, ApiError(400, "BadRequest", "invalid resource version: " + rv));
  } else {
    state->rv = std::stoull(rv);
  }
  auto now = std::chrono::steady_clock::now();
  std::string timeout = get("timeoutSeconds");
  state->deadline = now + (timeout.empty() ? options_.default_watch_timeout
                                           : std::chrono::seconds(std::stol(timeout)));
  state->bookmarks = IsTrue(get("allowWatchBookmarks"));
  state->next_bookmark = now + options_.bookmark_interval;
  auto interval = options_.bookmark_interval;
  // ";stream=watch" as the real server marks streams; it also keeps cpp-httplib from gzipping
  // the stream, which would hold events back until a compressor block fills.
  res.set_chunked_content_provider(
      "application/json;stream=watch",
      [this, kind, state, matches, interval](size_t, httplib::DataSink& sink) {
        auto send = [&](const json& ev) {
          std::string line = ev.dump() + "\n";
          return sink.write(line.data(), line.size());
        };
        for (const json& ev : state->initial)
          if (!send(ev)) return false;
        state->initial.clear();
        auto now = std::chrono::steady_clock::now();
        if (now >= state->deadline || store_.Stopping()) {
          sink.done();
          return true;
        }
        auto until = std::min(state->deadline, now + std::chrono::seconds(1));
        if (state->bookmarks) until = std::min(until, state->next_bookmark);
        uint64_t head = 0;
        auto events = store_.EventsAfter(kind.StoreKey(), state->rv, until, &head);
        if (!events.ok()) {
          send({{"type", "ERROR"}, {"object", StatusBody(events.status())}});
          sink.done();
          return true;
        }
        for (const WatchEvent& ev : *events) {
          bool was = matches(ev.previous), is = matches(ev.object);
          std::string type = ev.type;
          if (ev.type == "MODIFIED" && was != is) type = is ? "ADDED" : "DELETED";
          if ((ev.type == "DELETED" && was) || (ev.type != "DELETED" && (was || is))) {
            if (!send({{"type", type}, {"object", Resources::Present(kind, ev.object)}}))
              return false;
          }
        }
        state->rv = std::max(state->rv, head);
        if (state->bookmarks && std::chrono::steady_clock::now() >= state->next_bookmark) {
          state->next_bookmark += interval;
          json bookmark = {{"kind", kind.kind},
                           {"apiVersion", kind.GroupVersion()},
                           {"metadata", {{"resourceVersion", std::to_string(state->rv)}}}};
          if (!send({{"type", "BOOKMARK"}, {"object", bookmark}})) return false;
        }
        return sink.is_writable();
      });
}

}  // namespace xgate::kubetest
