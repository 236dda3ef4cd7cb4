// The compiled, immutable route table of the HTTP engine, built from api::L7Config, and the
// request matcher. Selection, in order:
//   1. Port: by (local address, local port); a Port without addresses (or with 0.0.0.0/::)
//      serves every address of its port number, after exact address matches.
//   2. Listener: by SNI (TLS) or else the Host header (port stripped, case-insensitive,
//      trailing dot ignored): exact listener hostname, then wildcards most specific first,
//      then a listener without hostname.
//   3. Virtual host: exact, then wildcards longest first, then "". "*.example.com" matches
//      names with that suffix and at least one more label.
//   4. Route: the first, in the compiler's precedence order, whose path, method, header and
//      query matches all hold.
// The table is immutable: the server holds a std::shared_ptr<const RouteTable> and swaps it
// atomically on a new config; in-flight requests keep the old one alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"
#include "userspace-proxy/routing/hostname_index.h"

namespace re2 {
class RE2;
}

namespace xgate::routing {

// One route with its regular expressions compiled. Points into the RouteTable's config.
struct CompiledRoute {
  const api::Route* route = nullptr;
  std::string name;                            // "ns/name", for the access log and metrics
  std::shared_ptr<const re2::RE2> path_regex;  // REGULAR_EXPRESSION paths
  std::vector<std::shared_ptr<const re2::RE2>> header_regex;  // per header match, or null
  std::vector<std::shared_ptr<const re2::RE2>> query_regex;   // per query match, or null
  uint64_t total_weight = 0;                                  // sum of backend weights
  bool has_redirect = false;  // a RequestRedirect filter among route filters

  // "HTTPRoute ns/name rule R match M", for logs and explain.
  std::string Describe() const;
};

// A virtual host compiled with its own copy of its config: a new table whose virtual host is
// byte-equal to the previous table's of the same listener and hostname shares it instead of
// compiling it again, and a delta shares every virtual host it does not name.
struct CompiledVirtualHost {
  api::VirtualHost proto;
  std::string bytes;                       // `proto` serialized: what reuse compares
  const api::VirtualHost* vhost = &proto;  // the same, for callers that hold pointers
  std::vector<CompiledRoute> routes;

  CompiledVirtualHost() = default;
  CompiledVirtualHost(const CompiledVirtualHost&) = delete;  // routes point into `proto`
  CompiledVirtualHost& operator=(const CompiledVirtualHost&) = delete;
};

struct CompiledListener {
  const api::Listener* listener = nullptr;
  // In config order (exact, wildcard, ""); shared with the tables they were reused from.
  std::vector<std::shared_ptr<const CompiledVirtualHost>> vhosts;
  // Picks among `vhosts` by the Host header; shared with the previous table when the
  // hostnames are the same and in the same places.
  std::shared_ptr<const HostnameIndex> vhost_index;
};

// A listener's identity from one config to the next (what a delta names): port, Gateway and
// listener name.
std::string ListenerKey(uint32_t port, const api::Listener& listener);

struct CompiledPort {
  const api::Port* port = nullptr;
  std::vector<std::string> addresses;  // normalized (inet_ntop of inet_pton)
  bool any_address = false;
  std::vector<CompiledListener> listeners;
};

// What a request needs for matching. The head is the parsed request (its host is the Host
// header, its path the origin-form target).
struct MatchInput {
  std::string_view local_address;  // the address the connection was accepted on
  uint16_t local_port = 0;
  std::string_view sni;  // "" for plain HTTP or when the client sent none
  const http::RequestHead* request = nullptr;
};

// Why a candidate did or did not match: one entry per candidate considered, in order.
struct TraceEntry {
  enum class Stage : uint8_t { kPort, kListener, kVirtualHost, kRoute, kBackend };
  Stage stage;
  std::string subject;  // e.g. "listener gw-ns/gw/http", "HTTPRoute ns/r rule 0 match 1"
  bool matched = false;
  std::string reason;  // e.g. "path /foo does not match PathPrefix /bar", "header X-Env"
};

// The explanation sink for `xgatectl explain`; the proxy passes nullptr.
struct MatchTrace {
  std::vector<TraceEntry> entries;
  std::string ToString() const;  // one line per entry
};

struct RouteDecision {
  enum class Outcome : uint8_t {
    kRouted,      // route set; proxy to a backend (PickBackend) or answer its redirect
    kNoPort,      // no Port for the local address/port: close the connection
    kNoListener,  // 404
    kNotFound,    // no virtual host or no route matched: 404
    kNoBackend,   // route matched but it has no usable backend and no redirect: 500
  };
  Outcome outcome = Outcome::kNotFound;
  int status = 404;  // 0 when kRouted, else the status to answer with
  const CompiledPort* port = nullptr;
  const CompiledListener* listener = nullptr;
  const CompiledVirtualHost* vhost = nullptr;
  const CompiledRoute* route = nullptr;
};

// Lowercases, strips ":port" and one trailing dot: the name used for hostname matching.
std::string NormalizeHost(std::string_view host);
// The same without lowercasing (HostnameMatches ignores case): a view into `host`.
std::string_view HostWithoutPortAndDot(std::string_view host);

// True when `pattern` ("" any, "name", or "*.suffix") accepts `host` (normalized).
bool HostnameMatches(std::string_view pattern, std::string_view host);

class RouteTable {
 public:
  // Fails (InvalidArgument naming the route) when a regular expression does not compile, and
  // with FailedPrecondition for a delta (config.base_generation) that is not on `previous`.
  // The virtual hosts byte-equal to those of `previous` (the table being replaced, if any)
  // are shared with it, not compiled again; a delta compiles only those it carries. The
  // table's config keeps what it was given but the virtual hosts: for a delta, only the
  // changed clusters and certificates.
  static absl::StatusOr<std::shared_ptr<const RouteTable>> Build(
      api::L7Config config, const RouteTable* previous = nullptr);

  RouteDecision Match(const MatchInput& input, MatchTrace* trace = nullptr) const;

  // Port lookup alone (the server uses it at accept time and for TLS SNI selection).
  const CompiledPort* FindPort(std::string_view local_address, uint16_t local_port) const;
  // Listener lookup within a port by SNI or Host (normalized inside).
  const CompiledListener* FindListener(const CompiledPort& port, std::string_view hostname,
                                       MatchTrace* trace = nullptr) const;

  // A cluster by name, or nullptr (of a whole config's table).
  const api::Cluster* FindCluster(std::string_view name) const;

  // The config, its listeners without their virtual hosts (those are in CompiledListener).
  const api::L7Config& config() const { return config_; }
  const std::vector<CompiledPort>& ports() const { return ports_; }

 private:
  RouteTable() = default;
  using BuiltVirtualHosts =
      absl::flat_hash_map<absl::string_view, std::shared_ptr<const CompiledVirtualHost>>;
  absl::Status Compile(const RouteTable* previous);
  // A whole listener: each virtual host the base's (the previous table's listener of the same
  // key) when byte-equal, else compiled.
  absl::Status CompileListener(api::Listener& listener, const CompiledListener* base,
                               CompiledListener& cl, BuiltVirtualHosts& built);
  // A delta's listener: the base's virtual hosts, those it carries compiled in their place.
  absl::Status ApplyDelta(api::Listener& listener, const CompiledListener* base,
                          CompiledListener& cl, BuiltVirtualHosts& built);
  // `vhost` (serialized: `bytes`) compiled, or one byte-equal built before in this table.
  absl::StatusOr<std::shared_ptr<const CompiledVirtualHost>> CompileVirtualHost(
      api::VirtualHost& vhost, std::string bytes, BuiltVirtualHosts& built);

  api::L7Config config_;
  std::vector<CompiledPort> ports_;
};

// Whether the route's match holds for the request; on a miss, `why` (when non-null) gets
// the first failing condition.
bool RouteMatches(const CompiledRoute& route, const http::RequestHead& request,
                  std::string* why = nullptr);

// The route's PathPrefix value ("" for other path match types): what ReplacePrefixMatch
// replaces (RequestContext::matched_prefix).
std::string_view MatchedPrefix(const CompiledRoute& route);

// Weighted choice among the route's backends: zero weights are never chosen. Returns
// nullptr when the total weight is 0. A chosen backend with cluster "" is invalid: 500.
const api::WeightedCluster* PickBackend(const CompiledRoute& route, absl::BitGenRef rng);
// The same among the backends `usable` accepts (by their weights); nullptr when none is.
const api::WeightedCluster* PickBackend(
    const CompiledRoute& route, absl::BitGenRef rng,
    absl::FunctionRef<bool(const api::WeightedCluster&)> usable);

}  // namespace xgate::routing
