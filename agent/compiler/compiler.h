// Turns a bound configuration into one immutable Snapshot for both data planes.
#pragma once

#include <memory>
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
};

std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation,
                                        const CompileOptions& options = {});

}  // namespace xgate::compiler
