#include "agent/compiler/compiler.h"

#include "agent/compiler/l4.h"
#include "agent/compiler/l7.h"

namespace xgate::compiler {

std::shared_ptr<const Snapshot> Compile(const binder::BindResult& bound, uint64_t generation) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generation = generation;
  snapshot->l4 = CompileL4(bound);
  snapshot->l7 = CompileL7(bound, generation, snapshot->punt);
  return snapshot;
}

}  // namespace xgate::compiler
