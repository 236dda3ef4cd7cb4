// The HTTP face of the test API server: authentication, RBAC, discovery, the minimal OpenAPI v3
// kubectl asks for, the resource paths (/api/v1/..., /apis/GROUP/VERSION/...) and watch
// streams, plus POST /xgate-test/compact (system:masters) to drop the watch history.
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>

#include "tests/kube/apiserver/auth.h"
#include "tests/kube/apiserver/resources.h"
#include "tests/kube/apiserver/store.h"

namespace xgate::kubetest {

struct HttpApiOptions {
  std::string server_address;  // host:port, for /api's serverAddressByClientCIDRs
  std::chrono::milliseconds bookmark_interval{5000};
  std::chrono::seconds default_watch_timeout{1800};
};

class HttpApi {
 public:
  HttpApi(Store& store, TokenFile& tokens, HttpApiOptions options)
      : store_(store), resources_(store), tokens_(tokens), options_(std::move(options)) {}

  void Register(httplib::Server& server);

 private:
  void Handle(const httplib::Request& req, httplib::Response& res);
  void Watch(const Kind& kind, const std::string& ns, const std::string& name, const Query& query,
             httplib::Response& res);
  bool Discovery(const std::string& path, httplib::Response& res);

  Store& store_;
  Resources resources_;
  TokenFile& tokens_;
  HttpApiOptions options_;
};

}  // namespace xgate::kubetest
