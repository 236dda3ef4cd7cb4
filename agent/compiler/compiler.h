// Turns a bound configuration into one immutable Snapshot for both data planes.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/binder/binder.h"
#include "agent/compiler/snapshot.h"

namespace xgate::compiler {

struct CompileOptions {
  // The pinned xg_steer_socks map when the agent steers (runs with --attach); "" otherwise.
  std::string steer_socket_map;
  // Every address of the node (any interface), canonical text: never steered, the kernel
  // delivers them as they are.
  std::set<std::string> node_owned;
  // This node's name: an endpoint whose nodeName it is runs here (Kubernetes mode).
  std::string node_name;
  // The addresses of the pods xgate-cni attached on this node (their interfaces present);
  // nullopt when xgate-cni is not in use here. An endpoint with one of them is local; an
  // endpoint on this node (nodeName) without one has no pod behind it any more (deleted, its
  // interface gone) and gets no new flows.
  std::optional<std::set<std::string>> local_pods;
};

// What Compile keeps from one call to the next so that a change compiles only the virtual
// hosts it touches: each virtual host (and the clusters its routes name) with the routes it
// was made from. A route is the same while the binder shares its RouteBackends (the route,
// and everything it was bound from, unchanged: see BindMemo).
class CompileMemo {
 public:
  CompileMemo();
  ~CompileMemo();
  CompileMemo(const CompileMemo&) = delete;
  CompileMemo& operator=(const CompileMemo&) = delete;
  struct State;
  std::unique_ptr<State> state;
  size_t reused = 0;  // virtual hosts taken from the memo by the last Compile
};

// With a memo, the snapshot is the same as without, made only where the bind changed.
std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation,
                                        const CompileOptions& options = {},
                                        CompileMemo* memo = nullptr);

}  // namespace xgate::compiler
