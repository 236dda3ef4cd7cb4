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

std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation,
                                        const CompileOptions& options = {});

}  // namespace xgate::compiler
