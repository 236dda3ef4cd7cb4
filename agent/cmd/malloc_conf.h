// The agent's memory settings (malloc_conf.cc).
#pragma once

namespace xgate::agent {

// Ends transparent huge pages for the agent's later allocations (PR_SET_THP_DISABLE): they
// pay for the cold load, where most pages are touched once, but a change's short-lived
// allocations would each fault in and zero a whole huge page. Idempotent (the flag is set or
// not), so the reload loops call it after every reload.
void EndColdStartHugePages();

// Once, after the first state is applied: hands back to the kernel the pages jemalloc keeps
// for what the cold load freed (the API server's list pages, their parse trees, the decode's
// scratch) instead of holding them until they decay, and logs the heap's figures before and
// after. Later calls do nothing.
void ReleaseColdStartMemory();

// A diagnosis aid, after each reload in Kubernetes mode: with XGATE_HEAP_STATS set, logs
// jemalloc's figures (allocated, active, resident, dirty pages); with XGATE_HEAP_PROF_PREFIX
// too, and MALLOC_CONF=prof:true, dumps a heap profile PREFIX.N.heap for jeprof (--base one
// dump to see what another holds more).
void LogHeapStats(const char* when);

}  // namespace xgate::agent
