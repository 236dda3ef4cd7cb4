// One immutable proxy configuration: the compiled route table, the TLS contexts per HTTPS
// port and the resolved upstream endpoints. Built off the request path from an L7Config (whole,
// or a delta on the config it replaces) and swapped whole; a request keeps the Config it
// started with alive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "api/config.pb.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/server/layered_map.h"
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
  // routes to (`sessions`); empty for the others.
  bool sessions = false;
  std::vector<uint64_t> session_tags;
  const std::string& PoolKey(size_t index) const {
    return tls ? tls_pool_keys[index] : keys[index];
  }
};

class Config {
 public:
  // Fails, naming what is wrong, on a bad regular expression, certificate or address, and with
  // FailedPrecondition on a delta that is not on `previous`. `previous` (the config being
  // replaced, if any) lends its TLS contexts where the certificate and key did not change: no
  // key parsed again, and session tickets issued before the swap still resume after it. A
  // delta takes everything it does not name from `previous`.
  static absl::StatusOr<std::shared_ptr<const Config>> Build(api::L7Config proto, bool offer_h2,
                                                             const Config* previous = nullptr);

  uint64_t generation() const { return table_->config().generation(); }
  const routing::RouteTable& table() const { return *table_; }
  // TLS selection for an HTTPS port (nullptr for other protocols).
  const PortTls* tls(const routing::CompiledPort& port) const;
  const ClusterEndpoints* cluster(std::string_view name) const;
  size_t cluster_count() const { return clusters_.size(); }
  size_t certificate_count() const { return certificates_.size(); }
  // Names the metrics may carry: routes as "ns/name", clusters. Made at the first call
  // (a scrape), not with every config.
  const std::set<std::string, std::less<>>& route_names() const { return names().routes; }
  const std::set<std::string, std::less<>>& cluster_names() const { return names().clusters; }
  // Every endpoint's "ip:port": the health records a worker keeps across the swap. Made at the
  // first call.
  const std::unordered_set<std::string>& endpoint_keys() const { return names().endpoints; }

 private:
  struct Names {
    std::set<std::string, std::less<>> routes, clusters;
    std::unordered_set<std::string> endpoints;
  };
  Config() = default;
  absl::Status AddClusters(const api::L7Config& proto, const Config* previous,
                           const std::set<std::string, std::less<>>& sessions);
  const Names& names() const;

  std::shared_ptr<const routing::RouteTable> table_;
  std::map<const api::Port*, std::shared_ptr<const PortTls>> tls_;
  // Certificates by name (a delta names only those that changed), and the contexts made of
  // them by a digest of the certificate and the listener's client validation (MaterialKey).
  std::map<std::string, std::shared_ptr<const api::Certificate>> certificates_;
  std::map<std::string, std::shared_ptr<SSL_CTX>> contexts_;
  LayeredMap<ClusterEndpoints> clusters_;
  // Upstream TLS settings by UpstreamTls::KeyOf, lent to the next config when unchanged.
  std::map<std::string, std::shared_ptr<const UpstreamTls>> upstream_tls_;
  mutable std::once_flag names_once_;
  mutable Names names_;
};

}  // namespace xgate::proxy
