// A Kubernetes API client on libcurl: HTTPS verified against the cluster's CA, bearer token
// (a token file is re-read when it changes: bound service account tokens rotate) or client
// certificate, JSON bodies. Used by the informers, the Lease and the status writer.
//
// Every call returns the HTTP exchange (code and body) when one happened, whatever the code;
// a not-OK status means no HTTP answer at all (connection refused, TLS failure, timeout,
// Shutdown). ToStatus() turns a non-2xx answer into an absl::Status when that is what the
// caller wants.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/sources/kube/kubeconfig.h"
#include "agent/sources/kube/watch_stream.h"

namespace xgate::kube {

// One HTTP answer from the API server.
struct Response {
  long code = 0;     // HTTP status code
  std::string body;  // as received (JSON for every API answer)
  // Retry-After, when the server sent one (429, 503).
  std::optional<std::chrono::seconds> retry_after;

  bool ok() const { return code >= 200 && code < 300; }
  // The body parsed; a discarded (is_discarded()) value when it is not JSON.
  nlohmann::json Json() const;
};

// OK for a 2xx answer; otherwise the absl code of the HTTP code (404 NotFound, 409 Aborted,
// 410 FailedPrecondition, 401 Unauthenticated, 403 PermissionDenied, 429 ResourceExhausted,
// 5xx Unavailable, ...) with "HTTP <code>: <the Status object's message>".
absl::Status ToStatus(const Response& response);

// Where a resource type lives: "/api/v1" or "/apis/<group>/<version>", then the plural.
struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1", "v1beta1", ...
  std::string plural;   // "httproutes", "leases", ...
  bool namespaced = true;

  bool operator==(const Resource&) const = default;
  // The URL path of the collection (name empty) or of one object, optionally of one of its
  // subresources ("status"). `ns` empty for cluster-scoped kinds or an all-namespaces list.
  std::string Path(std::string_view ns = "", std::string_view name = "",
                   std::string_view subresource = "") const;
  // "gateway.networking.k8s.io/v1" or "v1".
  std::string ApiVersion() const;
};

struct ListOptions {
  int64_t limit = 0;             // page size; 0: everything in one answer
  std::string continue_token;    // from the previous page's metadata.continue
  std::string resource_version;  // "" most recent; "0" any (from the watch cache)
  std::string label_selector;
  std::string field_selector;
};

struct WatchOptions {
  std::string resource_version;  // start after this version ("" or "0": from now, synthetic ADDs)
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // the server ends the watch after this; 0: the server's default
  std::string label_selector;
  std::string field_selector;
  // When set, the watch ends (CancelledError) soon after it becomes true (checked about
  // once a second and at each event), without shutting the whole client down.
  const std::atomic<bool>* cancel = nullptr;
};

enum class PatchType {
  kMerge,      // application/merge-patch+json
  kStrategic,  // application/strategic-merge-patch+json (core kinds only)
  kJson,       // application/json-patch+json
};

class Client {
 public:
  // Fails when the config cannot be used (unreadable CA, certificate or key file).
  static absl::StatusOr<std::unique_ptr<Client>> Create(const Config& config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Safe to call from several threads at once.
  absl::StatusOr<Response> Get(const std::string& path);
  // One page of a list: follow metadata.continue until it is empty.
  absl::StatusOr<Response> List(const std::string& path, const ListOptions& options = {});
  // Streams the watch: `on_event` is called for each event as it arrives; return false from
  // it to end the watch. Returns when the server ends the stream (the Response's code is the
  // HTTP code, its body empty when 200, the error otherwise), when `on_event` returned false,
  // or with CancelledError after Shutdown().
  absl::StatusOr<Response> Watch(const std::string& path, const WatchOptions& options,
                                 const std::function<bool(const WatchEvent&)>& on_event);
  // POST to a collection path.
  absl::StatusOr<Response> Create(const std::string& path, const nlohmann::json& object);
  // PUT to an object path (metadata.resourceVersion in `object` makes it conditional: 409).
  absl::StatusOr<Response> Update(const std::string& path, const nlohmann::json& object);
  // PUT to the object's /status subresource (`path` is the object's path, without /status).
  absl::StatusOr<Response> UpdateStatus(const std::string& path, const nlohmann::json& object);
  // PATCH; `path` may name a subresource (".../status").
  absl::StatusOr<Response> Patch(const std::string& path, const nlohmann::json& patch,
                                 PatchType type = PatchType::kMerge);
  absl::StatusOr<Response> Delete(const std::string& path);

  // Ends every call in progress (a Watch returns CancelledError) and fails later ones.
  void Shutdown();

  const Config& config() const { return config_; }

 private:
  explicit Client(Config config);
  struct Call;
  // One exchange; a 401 answered to a token the token file has replaced since (a rotation
  // landing while the request was in flight) is sent again once with the new token.
  absl::StatusOr<Response> Perform(Call& call);
  absl::StatusOr<Response> PerformOnce(Call& call, std::string& token);
  absl::StatusOr<Response> Send(const char* method, const std::string& path,
                                const nlohmann::json* body, const char* content_type);
  // The bearer token: the config's, or the token file's content, re-read when it changed.
  std::string BearerToken();

  Config config_;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace xgate::kube
