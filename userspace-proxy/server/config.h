// One immutable proxy configuration: the compiled route table, the TLS contexts per HTTPS
// port and the resolved upstream endpoints. Built off the request path from an L7Config and
// swapped whole; a request keeps the Config it started with alive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "api/config.pb.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/net.h"
#include "userspace-proxy/server/tls.h"
#include "userspace-proxy/server/upstream_tls.h"

namespace xgate::proxy {

struct ClusterEndpoints {
  std::vector<SocketAddress> endpoints;
  std::vector<std::string> keys;  // each endpoint's "ip:port", the pool's key for it
  // HTTP/2 to the endpoints: with prior knowledge in clear text (appProtocol
  // kubernetes.io/h2c), or with `tls` h2 chosen in ALPN (a backend that does not choose it
  // is refused, 502).
  bool h2c = false;
  // BackendTLSPolicy: TLS to every endpoint (HTTP/1.1 over TLS unless h2c), and the pool keys
  // that keep its connections apart from plain ones and other settings' to the same endpoint
  // ("ip:port#tls:<key>", "...#tls:<key>+h2" for HTTP/2).
  std::shared_ptr<const UpstreamTls> tls;
  std::vector<std::string> tls_pool_keys;
  // Each endpoint's SessionCodec::Tag, for a cluster that a rule with session persistence
  // routes to; empty for the others.
  std::vector<uint64_t> session_tags;
  const std::string& PoolKey(size_t index) const {
    return tls ? tls_pool_keys[index] : keys[index];
  }
};

class Config {
 public:
  // Fails, naming what is wrong, on a bad regular expression, certificate or address.
  // `previous` (the config being replaced, if any) lends its TLS contexts where the
  // certificate and key did not change: no key parsed again, and session tickets issued
  // before the swap still resume after it.
  static absl::StatusOr<std::shared_ptr<const Config>> Build(api::L7Config proto, bool offer_h2,
                                                             const Config* previous = nullptr);

  uint64_t generation() const { return table_->config().generation(); }
  const routing::RouteTable& table() const { return *table_; }
  // TLS selection for an HTTPS port (nullptr for other protocols).
  const PortTls* tls(const routing::CompiledPort& port) const;
  const ClusterEndpoints* cluster(std::string_view name) const;
  // Names the metrics may carry: routes as "ns/name", clusters.
  const std::set<std::string, std::less<>>& route_names() const { return route_names_; }
  const std::set<std::string, std::less<>>& cluster_names() const { return cluster_names_; }
  // Every endpoint's "ip:port": the health records a worker keeps across the swap.
  const std::unordered_set<std::string>& endpoint_keys() const { return endpoint_keys_; }

 private:
  Config() = default;
  std::shared_ptr<const routing::RouteTable> table_;
  std::map<const api::Port*, std::shared_ptr<const PortTls>> tls_;
  // Certificate contexts by a digest of what they were made from (see MaterialKey).
  std::map<std::string, std::shared_ptr<SSL_CTX>> contexts_;
  std::map<std::string, ClusterEndpoints, std::less<>> clusters_;
  // Upstream TLS settings by UpstreamTls::KeyOf, lent to the next config when unchanged.
  std::map<std::string, std::shared_ptr<const UpstreamTls>> upstream_tls_;
  std::set<std::string, std::less<>> route_names_;
  std::set<std::string, std::less<>> cluster_names_;
  std::unordered_set<std::string> endpoint_keys_;
};

}  // namespace xgate::proxy
