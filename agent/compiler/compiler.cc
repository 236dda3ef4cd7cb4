#include "agent/compiler/compiler.h"

#include "agent/compiler/l4.h"
#include "agent/compiler/l7.h"
#include "agent/model/address.h"

namespace xgate::compiler {

namespace {

// Marks the punted addresses the node does not have as steered, in the snapshot's punt list
// and in each L7 port.
void MarkSteered(const CompileOptions& options, Snapshot& snapshot) {
  if (options.steer_socket_map.empty()) return;
  std::set<std::string> steered;
  for (PuntListener& punt : snapshot.punt) {
    punt.steered = !options.node_owned.contains(model::CanonicalAddress(punt.address));
    if (punt.steered) steered.insert(punt.address);
  }
  if (steered.empty()) return;
  snapshot.l7.set_steer_socket_map(options.steer_socket_map);
  for (api::Port& port : *snapshot.l7.mutable_ports()) {
    for (const std::string& a : port.addresses()) {
      if (steered.contains(a)) port.add_steered_addresses(a);
    }
  }
}

}  // namespace

std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation,
                                        const CompileOptions& options, CompileMemo* memo) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generation = generation;
  snapshot->l4 = CompileL4(bound, options);
  CompileMemo once;
  snapshot->l7 = CompileL7(bound, generation, snapshot->punt, memo != nullptr ? *memo : once,
                           snapshot->shared_parts);
  MarkSteered(options, *snapshot);
  return snapshot;
}

}  // namespace xgate::compiler
