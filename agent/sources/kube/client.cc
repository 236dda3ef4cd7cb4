#include "agent/sources/kube/client.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <array>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/model/json_text.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

constexpr long kConnectTimeoutSeconds = 5;
constexpr long kRequestTimeoutSeconds = 30;
// The shared connection cache's size. curl_easy_perform's default (4) counts the connections
// in use too: with a watch per kind open, every other request's connection was closed once it
// answered, so each GET, list page and status write paid a new TLS handshake (~3 ms of CPU on
// each side; 10,000 status reads after a cold start: ~25 s of CPU).
constexpr long kCachedConnections = 64;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Escape(const std::string& value) {
  char* out = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
  std::string s = out ? out : "";
  curl_free(out);
  return s;
}

void AddParam(std::string& query, const char* name, const std::string& value) {
  if (value.empty()) return;
  absl::StrAppend(&query, query.empty() ? "?" : "&", name, "=", Escape(value));
}

absl::StatusCode CodeOf(long http) {
  switch (http) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return http >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kUnknown;
  }
}

}  // namespace

nlohmann::json Response::Json() const { return model::ParseJson(body); }

absl::Status ToStatus(const Response& response) {
  if (response.ok()) return absl::OkStatus();
  std::string message;
  nlohmann::json j = response.Json();
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    message = j["message"].get<std::string>();
  } else {
    message = response.body.substr(0, 200);
  }
  return absl::Status(CodeOf(response.code), absl::StrCat("HTTP ", response.code, ": ", message));
}

std::string Resource::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string Resource::Path(std::string_view ns, std::string_view name,
                           std::string_view subresource) const {
  std::string path =
      group.empty() ? absl::StrCat("/api/", version) : absl::StrCat("/apis/", group, "/", version);
  if (namespaced && !ns.empty()) absl::StrAppend(&path, "/namespaces/", std::string(ns));
  absl::StrAppend(&path, "/", plural);
  if (!name.empty()) absl::StrAppend(&path, "/", std::string(name));
  if (!subresource.empty()) absl::StrAppend(&path, "/", std::string(subresource));
  return path;
}

// Connections, TLS sessions and DNS answers shared by every call's easy handle.
struct Client::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex token_mu;
  std::string token;
  struct timespec token_mtime {};
  off_t token_size = -1;
  ino_t token_inode = 0;

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Shared*>(self)->locks[data].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<Shared*>(self)->locks[data].unlock();
  }
};

// One HTTP exchange in progress.
struct Client::Call {
  const char* method = "GET";
  std::string path;  // with the query
  std::string body;
  const char* content_type = nullptr;
  const std::function<bool(const WatchEvent&)>* on_event = nullptr;  // a watch
  long timeout_seconds = kRequestTimeoutSeconds;                     // 0: none

  CURL* easy = nullptr;
  Response response;
  WatchStream stream{""};  // a watch's events (named by `path` once known)
  bool stopped_by_caller = false;
  std::atomic<bool>* shutdown = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  bool Cancelled() const { return shutdown->load() || (cancel != nullptr && cancel->load()); }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* call = static_cast<Call*>(self);
    std::string line(data, size * n);
    const std::string kRetryAfter = "retry-after:";
    if (line.size() > kRetryAfter.size() &&
        absl::AsciiStrToLower(line.substr(0, kRetryAfter.size())) == kRetryAfter) {
      int64_t seconds = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(kRetryAfter.size())), &seconds)) {
        call->response.retry_after = std::chrono::seconds(std::max<int64_t>(seconds, 0));
      }
    }
    return size * n;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* call = static_cast<Call*>(self);
    size_t bytes = size * n;
    long code = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
    if (call->on_event == nullptr || code != 200) {
      call->response.body.append(data, bytes);
      return bytes;
    }
    bool cancelled = false;
    call->stream.Feed(std::string_view(data, bytes), [&](const WatchEvent& event) {
      if (call->Cancelled()) {
        cancelled = true;
        return false;
      }
      if (!(*call->on_event)(event)) {
        call->stopped_by_caller = true;
        return false;
      }
      return true;
    });
    return cancelled || call->stopped_by_caller ? 0 : bytes;  // 0 ends the transfer
  }

  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Call*>(self)->Cancelled() ? 1 : 0;
  }
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const Config& config) {
  GlobalInit();
  if (config.server.empty()) return absl::InvalidArgumentError("no API server address");
  for (const std::string* file :
       {&config.ca_file, &config.client_cert_file, &config.client_key_file, &config.token_file}) {
    if (file->empty()) continue;
    std::ifstream in(*file);
    if (!in) return absl::NotFoundError(absl::StrCat(config.origin, ": cannot read ", *file));
  }
  std::unique_ptr<Client> client(new Client(config));
  return client;
}

Client::Client(Config config) : config_(std::move(config)), shared_(std::make_unique<Shared>()) {
  shared_->share = curl_share_init();
  curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, &Shared::Lock);
  curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, &Shared::Unlock);
  curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, shared_.get());
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

Client::~Client() { curl_share_cleanup(shared_->share); }

void Client::Shutdown() { shutdown_ = true; }

std::string Client::BearerToken() {
  if (config_.token_file.empty()) return config_.token;
  std::lock_guard lock(shared_->token_mu);
  struct stat st {};
  if (stat(config_.token_file.c_str(), &st) != 0) return shared_->token;  // keep the last one
  if (st.st_mtim.tv_sec == shared_->token_mtime.tv_sec &&
      st.st_mtim.tv_nsec == shared_->token_mtime.tv_nsec && st.st_size == shared_->token_size &&
      st.st_ino == shared_->token_inode) {
    return shared_->token;
  }
  std::ifstream in(config_.token_file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return shared_->token;
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (!shared_->token.empty() && token != shared_->token) {
    spdlog::info("{}: token file changed; using the new token", config_.token_file);
  }
  shared_->token = token;
  shared_->token_mtime = st.st_mtim;
  shared_->token_size = st.st_size;
  shared_->token_inode = st.st_ino;
  return shared_->token;
}

absl::StatusOr<Response> Client::Perform(Call& call) {
  std::string token;
  absl::StatusOr<Response> answer = PerformOnce(call, token);
  if (answer.ok() && answer->code == 401 && !config_.token_file.empty() && BearerToken() != token) {
    spdlog::info("{} {}: 401 to a token the token file has replaced since; sending it again",
                 call.method, call.path);
    call.response = Response();
    answer = PerformOnce(call, token);
  }
  return answer;
}

absl::StatusOr<Response> Client::PerformOnce(Call& call, std::string& token) {
  if (shutdown_) return absl::CancelledError("the API client is shut down");
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  call.easy = easy;
  call.shutdown = &shutdown_;
  std::string url = config_.server + call.path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(easy, CURLOPT_MAXCONNECTS, kCachedConnections);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, call.timeout_seconds);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, call.method);
  if (std::string_view(call.method) == "GET") curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);

  // TLS: the cluster's CA (or the system's), a client certificate when given.
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, config_.insecure_skip_tls_verify ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, config_.insecure_skip_tls_verify ? 0L : 2L);
  curl_blob ca{config_.ca_pem.data(), config_.ca_pem.size(), CURL_BLOB_NOCOPY};
  if (!config_.ca_pem.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca);
  if (!config_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_blob cert{config_.client_cert_pem.data(), config_.client_cert_pem.size(), CURL_BLOB_NOCOPY};
  curl_blob key{config_.client_key_pem.data(), config_.client_key_pem.size(), CURL_BLOB_NOCOPY};
  if (!config_.client_cert_pem.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
  if (!config_.client_cert_file.empty())
    curl_easy_setopt(easy, CURLOPT_SSLCERT, config_.client_cert_file.c_str());
  if (!config_.client_key_pem.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
  if (!config_.client_key_file.empty())
    curl_easy_setopt(easy, CURLOPT_SSLKEY, config_.client_key_file.c_str());

  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  token = BearerToken();
  if (!token.empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", token).c_str());
  }
  if (call.content_type != nullptr) {
    headers = curl_slist_append(headers, absl::StrCat("Content-Type: ", call.content_type).c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  headers = curl_slist_append(headers, "User-Agent: xgate-agent");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Call::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &call);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Call::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Call::OnProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &call);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);

  CURLcode rc = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &call.response.code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  call.easy = nullptr;

  if (rc == CURLE_WRITE_ERROR && call.stopped_by_caller) return std::move(call.response);
  if (rc == CURLE_ABORTED_BY_CALLBACK || (rc != CURLE_OK && call.Cancelled())) {
    return absl::CancelledError(shutdown_ ? "the API client is shut down" : "cancelled");
  }
  if (rc != CURLE_OK) {
    // A watch the server ends abruptly after its answer began is still an answer.
    if (call.on_event != nullptr && call.response.code == 200 &&
        (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT)) {
      return std::move(call.response);
    }
    return absl::UnavailableError(
        absl::StrCat(call.method, " ", url, ": ", error[0] ? error : curl_easy_strerror(rc)));
  }
  return std::move(call.response);
}

absl::StatusOr<Response> Client::Get(const std::string& path) {
  Call call;
  call.path = path;
  return Perform(call);
}

absl::StatusOr<Response> Client::List(const std::string& path, const ListOptions& options) {
  std::string query;
  if (options.limit > 0) AddParam(query, "limit", absl::StrCat(options.limit));
  AddParam(query, "continue", options.continue_token);
  AddParam(query, "resourceVersion", options.resource_version);
  AddParam(query, "labelSelector", options.label_selector);
  AddParam(query, "fieldSelector", options.field_selector);
  Call call;
  call.path = path + query;
  return Perform(call);
}

absl::StatusOr<Response> Client::Watch(const std::string& path, const WatchOptions& options,
                                       const std::function<bool(const WatchEvent&)>& on_event) {
  std::string query = "?watch=1";
  AddParam(query, "resourceVersion", options.resource_version);
  if (options.allow_bookmarks) AddParam(query, "allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    AddParam(query, "timeoutSeconds", absl::StrCat(options.timeout_seconds));
  }
  AddParam(query, "labelSelector", options.label_selector);
  AddParam(query, "fieldSelector", options.field_selector);
  Call call;
  call.path = path + query;
  call.on_event = &on_event;
  call.stream = WatchStream(path);
  call.cancel = options.cancel;
  // The server ends the watch; a server that went silent past its own timeout is gone.
  call.timeout_seconds = options.timeout_seconds > 0 ? options.timeout_seconds + 30 : 0;
  return Perform(call);
}

absl::StatusOr<Response> Client::Send(const char* method, const std::string& path,
                                      const nlohmann::json* body, const char* content_type) {
  Call call;
  call.method = method;
  call.path = path;
  if (body != nullptr) {
    call.body = body->dump();
    call.content_type = content_type;
  }
  return Perform(call);
}

absl::StatusOr<Response> Client::Create(const std::string& path, const nlohmann::json& object) {
  return Send("POST", path, &object, "application/json");
}

absl::StatusOr<Response> Client::Update(const std::string& path, const nlohmann::json& object) {
  return Send("PUT", path, &object, "application/json");
}

absl::StatusOr<Response> Client::UpdateStatus(const std::string& path,
                                              const nlohmann::json& object) {
  return Update(path + "/status", object);
}

absl::StatusOr<Response> Client::Patch(const std::string& path, const nlohmann::json& patch,
                                       PatchType type) {
  return Send("PATCH", path, &patch,
              type == PatchType::kMerge       ? "application/merge-patch+json"
              : type == PatchType::kStrategic ? "application/strategic-merge-patch+json"
                                              : "application/json-patch+json");
}

absl::StatusOr<Response> Client::Delete(const std::string& path) {
  return Send("DELETE", path, nullptr, nullptr);
}

}  // namespace xgate::kube
