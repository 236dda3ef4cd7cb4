// jemalloc's options for the agent (read at its first allocation; MALLOC_CONF in the
// environment still overrides them). thp:always asks for transparent huge pages on the heap
// (the kernel's default THP mode is madvise): a cold load of 10,000 routes builds a few hundred
// MB of objects, and on a VM each 4 KiB page's first touch is a costly fault. With it the cold
// store load, bind and compile of 10,000 HTTPRoutes take ~0.6 s of CPU instead of ~0.85 s.
#include "agent/cmd/malloc_conf.h"

#include <sys/prctl.h>

#include "spdlog/spdlog.h"

extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
const char* malloc_conf = "thp:always";
}

namespace xgate::agent {

void EndColdStartHugePages() {
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
    spdlog::debug("PR_SET_THP_DISABLE refused; huge pages stay on");
  }
}

}  // namespace xgate::agent
