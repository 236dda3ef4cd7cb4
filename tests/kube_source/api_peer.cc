#include "tests/kube_source/api_peer.h"

#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/fixtures/fixtures.h"

namespace xgate::kubetest {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kCollection[] = "/apis/gateway.networking.k8s.io/v1/httproutes";

void Sh(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("failed: " + command);
  }
}

json Status(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

}  // namespace

ApiPeer::ApiPeer(const fs::path& dir)
    : ca_(dir / "ca.crt"),
      client_cert_(dir / "client.crt"),
      client_key_(dir / "client.key"),
      server_cert_(dir / "server.crt"),
      server_key_(dir / "server.key") {
  std::string d = dir.string();
  Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
     "/CN=test-ca -keyout " +
     d + "/ca.key -out " + ca_.string());
  for (const auto& [name, ext] :
       {std::pair<std::string, std::string>{"server", "subjectAltName=IP:127.0.0.1"},
        {"client", "extendedKeyUsage=clientAuth"}}) {
    Sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name +
       " -keyout " + d + "/" + name + ".key -out " + d + "/" + name + ".csr");
    fixtures::WriteFile(dir / (name + ".ext"), ext + "\n");
    Sh("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + ca_.string() + " -CAkey " + d +
       "/ca.key -CAcreateserial -days 1 -extfile " + d + "/" + name + ".ext -out " + d + "/" +
       name + ".crt");
  }
  server_ = std::make_unique<httplib::SSLServer>(server_cert_.c_str(), server_key_.c_str(),
                                                 ca_.c_str(), nullptr);
  // Without a client certificate a connection still succeeds (then the token decides).
  SSL_CTX_set_verify(server_->ssl_context(), SSL_VERIFY_PEER,
                     [](int, X509_STORE_CTX*) { return 1; });
  // The client resumes TLS sessions (libcurl shares them between its handles), and OpenSSL
  // refuses to resume, with an internal_error alert, on a server that verifies peers but has
  // no session id context: with five or more informers connecting at once, discovery and
  // lists failed so.
  static constexpr unsigned char kSessionContext[] = "xgate-api-peer";
  SSL_CTX_set_session_id_context(server_->ssl_context(), kSessionContext,
                                 sizeof(kSessionContext) - 1);
  server_->Get("/apis/gateway.networking.k8s.io", [this](const auto& req, auto& res) {
    if (!Authorized(req, res) || Injected(res)) return;
    if (!GatewayApiServed()) {
      res.status = 404;
      res.set_content(
          Status(404, "NotFound", "the server could not find the requested resource").dump(),
          "application/json");
      return;
    }
    json group = {
        {"kind", "APIGroup"},
        {"apiVersion", "v1"},
        {"name", "gateway.networking.k8s.io"},
        {"versions", {{{"groupVersion", "gateway.networking.k8s.io/v1"}, {"version", "v1"}}}},
        {"preferredVersion",
         {{"groupVersion", "gateway.networking.k8s.io/v1"}, {"version", "v1"}}}};
    res.set_content(group.dump(), "application/json");
  });
  server_->Get("/apis/gateway.networking.k8s.io/v1", [this](const auto& req, auto& res) {
    if (!Authorized(req, res) || Injected(res)) return;
    json resources = json::array();
    auto add = [&resources](const std::string& plural, const std::string& kind) {
      resources.push_back({{"name", plural},
                           {"namespaced", true},
                           {"kind", kind},
                           {"verbs", {"get", "list", "watch"}}});
    };
    add("httproutes", "HTTPRoute");
    {
      std::lock_guard lock(mu_);
      for (const auto& [plural, kind] : also_served_) add(plural, kind);
    }
    json list = {{"kind", "APIResourceList"},
                 {"apiVersion", "v1"},
                 {"groupVersion", "gateway.networking.k8s.io/v1"},
                 {"resources", resources}};
    res.set_content(list.dump(), "application/json");
  });
  server_->Get(kCollection, [this](const httplib::Request& req, httplib::Response& res) {
    if (!Authorized(req, res) || Injected(res)) return;
    if (req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true") {
      Watch(req, res);
    } else {
      List(req, res);
    }
  });
  // Every other collection (core kinds, EndpointSlices, ServeAlso's): empty, and its watches
  // stay open.
  server_->Get(
      R"(/(api/v1|apis/discovery\.k8s\.io/v1|apis/gateway\.networking\.k8s\.io/v1)/[a-z]+)",
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!Authorized(req, res) || Injected(res)) return;
        if (req.get_param_value("watch").empty()) {
          json list = {{"kind", "List"},
                       {"apiVersion", "v1"},
                       {"metadata", {{"resourceVersion", resource_version()}}},
                       {"items", json::array()}};
          res.set_content(list.dump(), "application/json");
          return;
        }
        res.set_chunked_content_provider("application/json",
                                         [this](size_t, httplib::DataSink& sink) {
                                           std::unique_lock lock(mu_);
                                           if (stopping_ || !sink.is_writable()) {
                                             lock.unlock();
                                             sink.done();
                                             return true;
                                           }
                                           cv_.wait_for(lock, std::chrono::milliseconds(200));
                                           return true;
                                         });
      });
  server_->set_keep_alive_max_count(std::numeric_limits<size_t>::max());
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

ApiPeer::~ApiPeer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_->stop();
  thread_.join();
}

std::string ApiPeer::url() const { return absl::StrCat("https://127.0.0.1:", port_); }

void ApiPeer::SetGatewayApiServed(bool served) {
  std::lock_guard lock(mu_);
  gateway_api_served_ = served;
}

bool ApiPeer::GatewayApiServed() const {
  std::lock_guard lock(mu_);
  return gateway_api_served_;
}

void ApiPeer::ServeAlso(const std::string& plural, const std::string& kind) {
  std::lock_guard lock(mu_);
  also_served_.emplace_back(plural, kind);
}

void ApiPeer::SetToken(const std::string& token) {
  std::lock_guard lock(mu_);
  token_ = token;
}

void ApiPeer::RotateTokenAtNextRequest(const std::string& token, std::function<void()> rotate) {
  std::lock_guard lock(mu_);
  next_token_ = token;
  rotate_ = std::move(rotate);
}

bool ApiPeer::Authorized(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mu_);
  if (rotate_) {
    std::exchange(rotate_, nullptr)();
    token_ = next_token_;
  }
  std::string target = req.path;
  if (!req.params.empty()) {
    std::string query;
    for (const auto& [k, v] : req.params)
      absl::StrAppend(&query, query.empty() ? "?" : "&", k, "=", v);
    target += query;
  }
  requests_.push_back(req.method + " " + target);
  request_ports_.push_back(req.remote_port);
  std::string auth = req.get_header_value("Authorization");
  // Without a token, a client certificate the CA signed.
  bool ok = token_.empty() ? req.ssl != nullptr && SSL_get0_peer_certificate(req.ssl) != nullptr &&
                                 SSL_get_verify_result(req.ssl) == X509_V_OK
                           : auth == "Bearer " + token_;
  if (!ok) {
    res.status = 401;
    res.set_content(Status(401, "Unauthorized", "Unauthorized").dump(), "application/json");
  }
  return ok;
}

bool ApiPeer::Injected(httplib::Response& res) {
  std::lock_guard lock(mu_);
  if (failures_.empty()) return false;
  auto [code, retry_after] = failures_.front();
  failures_.pop_front();
  res.status = code;
  if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
  res.set_content(Status(code, code == 410 ? "Expired" : "InternalError", "injected").dump(),
                  "application/json");
  return true;
}

json ApiPeer::Object(const std::string& ns, const std::string& name, const json& spec,
                     int64_t rv) const {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"resourceVersion", std::to_string(rv)},
            {"generation", 1},
            {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"spec", spec}};
}

void ApiPeer::Record(const std::string& type, const json& object) {
  history_.push_back({rv_, type, object});
  cv_.notify_all();
}

void ApiPeer::Put(const std::string& ns, const std::string& name, const json& spec) {
  std::lock_guard lock(mu_);
  ++rv_;
  bool exists = objects_.count({ns, name}) > 0;
  objects_[{ns, name}] = Object(ns, name, spec, rv_);
  Record(exists ? "MODIFIED" : "ADDED", objects_[{ns, name}]);
}

void ApiPeer::Remove(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = objects_.find({ns, name});
  if (it == objects_.end()) return;
  ++rv_;
  json object = it->second;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  objects_.erase(it);
  Record("DELETED", object);
}

void ApiPeer::Compact() {
  std::lock_guard lock(mu_);
  compacted_ = rv_;
  history_.clear();
}

void ApiPeer::Bookmark() {
  std::lock_guard lock(mu_);
  ++bookmarks_;
  cv_.notify_all();
}

void ApiPeer::Advance() {
  std::lock_guard lock(mu_);
  ++rv_;
}

void ApiPeer::EndWatches() {
  std::lock_guard lock(mu_);
  ++ends_;
  cv_.notify_all();
}

void ApiPeer::Fail(int count, int code, int retry_after) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < count; ++i) failures_.push_back({code, retry_after});
}

std::vector<int> ApiPeer::request_ports() const {
  std::lock_guard lock(mu_);
  return request_ports_;
}

std::vector<std::string> ApiPeer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int ApiPeer::open_watches() const {
  std::lock_guard lock(mu_);
  return open_watches_;
}

std::string ApiPeer::resource_version() const {
  std::lock_guard lock(mu_);
  return std::to_string(rv_);
}

void ApiPeer::List(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mu_);
  size_t limit = 0, start = 0;
  absl::SimpleAtoi(req.get_param_value("limit"), &limit);
  absl::SimpleAtoi(req.get_param_value("continue"), &start);
  json items = json::array();
  size_t i = 0;
  for (const auto& [key, object] : objects_) {
    if (i++ < start) continue;
    if (limit > 0 && items.size() == limit) break;
    json item = object;
    item.erase("kind");  // as the API server serves list items
    item.erase("apiVersion");
    items.push_back(item);
  }
  json metadata = {{"resourceVersion", std::to_string(rv_)}};
  if (limit > 0 && start + items.size() < objects_.size()) {
    metadata["continue"] = std::to_string(start + items.size());
  }
  json list = {{"kind", "HTTPRouteList"},
               {"apiVersion", "gateway.networking.k8s.io/v1"},
               {"metadata", metadata},
               {"items", items}};
  res.set_content(list.dump(), "application/json");
}

void ApiPeer::Watch(const httplib::Request& req, httplib::Response& res) {
  int64_t from = 0;
  absl::SimpleAtoi(req.get_param_value("resourceVersion"), &from);
  bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
  std::unique_lock lock(mu_);
  uint64_t seen_bookmarks = bookmarks_, seen_ends = ends_;
  bool expired = from < compacted_;
  ++open_watches_;
  lock.unlock();
  res.set_chunked_content_provider(
      "application/json", [this, from, bookmarks, seen_bookmarks, seen_ends, expired](
                              size_t, httplib::DataSink& sink) mutable {
        std::unique_lock lock(mu_);
        auto write = [&](const json& event) {
          std::string line = event.dump() + "\n";
          lock.unlock();
          bool ok = sink.write(line.data(), line.size());
          lock.lock();
          return ok;
        };
        auto finish = [&] {
          --open_watches_;
          lock.unlock();
          sink.done();
          return true;
        };
        if (expired) {
          write({{"type", "ERROR"},
                 {"object",
                  Status(410, "Expired", "too old resource version: " + std::to_string(from))}});
          return finish();
        }
        while (true) {
          for (const Event& e : history_) {
            if (e.rv <= from) continue;
            from = e.rv;
            if (!write({{"type", e.type}, {"object", e.object}})) return finish();
          }
          if (stopping_ || ends_ != seen_ends) return finish();
          if (bookmarks_ != seen_bookmarks) {
            seen_bookmarks = bookmarks_;
            if (bookmarks) {
              from = rv_;
              json bookmark = {{"kind", "HTTPRoute"},
                               {"apiVersion", "gateway.networking.k8s.io/v1"},
                               {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
              if (!write({{"type", "BOOKMARK"}, {"object", bookmark}})) return finish();
            }
            continue;
          }
          if (!sink.is_writable()) return finish();
          cv_.wait_for(lock, std::chrono::milliseconds(200));
        }
      });
}

}  // namespace xgate::kubetest
