// jemalloc's options for the agent (read at its first allocation; MALLOC_CONF in the
// environment still overrides them). thp:always asks for transparent huge pages on the heap
// (the kernel's default THP mode is madvise): a cold load of 10,000 routes builds a few hundred
// MB of objects, and on a VM each 4 KiB page's first touch is a costly fault. With it the cold
// store load, bind and compile of 10,000 HTTPRoutes take ~0.6 s of CPU instead of ~0.85 s.
#include "agent/cmd/malloc_conf.h"

#include <jemalloc/jemalloc.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

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

namespace {

// A jemalloc statistic in MB, as of the last "epoch" refresh.
double StatMb(const char* name) {
  size_t value = 0;
  size_t len = sizeof value;
  if (mallctl(name, &value, &len, nullptr, 0) != 0) return 0;
  return static_cast<double>(value) / (1024.0 * 1024.0);
}

void RefreshStats() {
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
}

}  // namespace

void LogHeapStats(const char* when) {
  static const bool enabled = getenv("XGATE_HEAP_STATS") != nullptr;
  if (!enabled) return;
  RefreshStats();
  size_t pdirty = 0, pmuzzy = 0;
  size_t len = sizeof pdirty;
  const std::string all = "stats.arenas." + std::to_string(MALLCTL_ARENAS_ALL);
  mallctl((all + ".pdirty").c_str(), &pdirty, &len, nullptr, 0);
  mallctl((all + ".pmuzzy").c_str(), &pmuzzy, &len, nullptr, 0);
  unsigned narenas = 0;
  size_t ulen = sizeof narenas;
  mallctl("arenas.narenas", &narenas, &ulen, nullptr, 0);
  static int dumps = 0;
  if (const char* prefix = getenv("XGATE_HEAP_PROF_PREFIX")) {
    std::string file = std::string(prefix) + "." + std::to_string(dumps++) + ".heap";
    const char* name = file.c_str();
    mallctl("prof.dump", nullptr, nullptr, &name, sizeof name);
  }
  spdlog::info(
      "heap {}: allocated {:.1f} active {:.1f} metadata {:.1f} resident {:.1f} mapped {:.1f} "
      "retained {:.1f} MB; dirty {:.1f} muzzy {:.1f} MB; {} arenas",
      when, StatMb("stats.allocated"), StatMb("stats.active"), StatMb("stats.metadata"),
      StatMb("stats.resident"), StatMb("stats.mapped"), StatMb("stats.retained"),
      pdirty * 4096.0 / 1048576, pmuzzy * 4096.0 / 1048576, narenas);
}

void ReleaseColdStartMemory() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  RefreshStats();
  const double allocated = StatMb("stats.allocated");
  const double resident = StatMb("stats.resident");
  const std::string purge = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  const bool purged = mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0) == 0;
  RefreshStats();
  spdlog::info("heap after the cold load: {:.0f} MB allocated; resident {:.0f} MB, {:.0f} MB {}",
               allocated, resident, StatMb("stats.resident"),
               purged ? "once freed pages are returned" : "(purge refused)");
}

}  // namespace xgate::agent
