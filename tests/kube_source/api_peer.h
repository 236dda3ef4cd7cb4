// A local HTTPS peer that answers as the Kubernetes API server does for one namespaced kind
// (HTTPRoute of gateway.networking.k8s.io/v1): discovery, paged lists, watches that stream
// events from a resourceVersion (with bookmarks, an ERROR 410 event once the history is
// compacted), a bearer token (401 otherwise), and failures on demand (429 with Retry-After,
// 500, HTTP 410). Its CA and a client certificate are written to `dir`.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace xgate::kubetest {

class ApiPeer {
 public:
  explicit ApiPeer(const std::filesystem::path& dir);
  ~ApiPeer();

  std::string url() const;
  const std::filesystem::path& ca_file() const { return ca_; }
  const std::filesystem::path& client_cert() const { return client_cert_; }
  const std::filesystem::path& client_key() const { return client_key_; }

  // Whether discovery lists the Gateway API group (as if its CRDs were installed); it does
  // at first.
  void SetGatewayApiServed(bool served);
  // Discovery of gateway.networking.k8s.io/v1 also lists `plural` (a CRD of a newer bundle,
  // as listenersets): its collection is empty and its watches stay open.
  void ServeAlso(const std::string& plural, const std::string& kind);
  // The token the peer accepts ("" accepts none: a client certificate is needed then).
  void SetToken(const std::string& token);
  // At the next request, before it is checked: runs `rotate` (a test replaces the client's
  // token file there) and accepts only `token` from then on, as a rotation landing while the
  // request is in flight.
  void RotateTokenAtNextRequest(const std::string& token, std::function<void()> rotate);

  // Object changes, each with the next resourceVersion (watchers see them at once).
  void Put(const std::string& ns, const std::string& name, const nlohmann::json& spec);
  void Remove(const std::string& ns, const std::string& name);
  // Forgets the event history: a watch from before now gets an ERROR 410 event.
  void Compact();
  // Moves the resourceVersion on with no event of this kind (other kinds changed).
  void Advance();
  // Sends a BOOKMARK at the current resourceVersion on every open watch.
  void Bookmark();
  // Ends every open watch (the client resumes).
  void EndWatches();
  // The next `count` requests of `method` ("GET" any) answer `code` (with Retry-After
  // `retry_after` seconds when > 0), before anything else.
  void Fail(int count, int code, int retry_after = 0);

  // Requests seen: "GET /apis/...?query", in order.
  std::vector<std::string> requests() const;
  // The client connection (its port) each request came on, in order: a connection kept alive
  // serves many requests (the API server, as Go's net/http, sets no limit).
  std::vector<int> request_ports() const;
  int open_watches() const;
  std::string resource_version() const;

 private:
  struct Event {
    int64_t rv;
    std::string type;
    nlohmann::json object;
  };
  bool Authorized(const httplib::Request& req, httplib::Response& res);
  bool GatewayApiServed() const;
  bool Injected(httplib::Response& res);
  void List(const httplib::Request& req, httplib::Response& res);
  void Watch(const httplib::Request& req, httplib::Response& res);
  nlohmann::json Object(const std::string& ns, const std::string& name, const nlohmann::json& spec,
                        int64_t rv) const;
  void Record(const std::string& type, const nlohmann::json& object);

  std::filesystem::path ca_, client_cert_, client_key_, server_cert_, server_key_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string token_;
  std::string next_token_;
  std::function<void()> rotate_;  // RotateTokenAtNextRequest's, until that request
  bool gateway_api_served_ = true;
  std::vector<std::pair<std::string, std::string>> also_served_;  // plural, kind
  int64_t rv_ = 100;
  int64_t compacted_ = 0;  // events at or before this resourceVersion are gone
  std::map<std::pair<std::string, std::string>, nlohmann::json> objects_;
  std::vector<Event> history_;
  uint64_t bookmarks_ = 0, ends_ = 0;
  std::deque<std::pair<int, int>> failures_;  // code, retry-after
  std::vector<std::string> requests_;
  std::vector<int> request_ports_;
  int open_watches_ = 0;
  bool stopping_ = false;
};

}  // namespace xgate::kubetest
