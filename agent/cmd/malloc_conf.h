// The agent's memory settings (malloc_conf.cc).
#pragma once

namespace xgate::agent {

// Ends transparent huge pages for the agent's later allocations (PR_SET_THP_DISABLE): they
// pay for the cold load, where most pages are touched once, but a change's short-lived
// allocations would each fault in and zero a whole huge page. Idempotent (the flag is set or
// not), so the reload loops call it after every reload.
void EndColdStartHugePages();

}  // namespace xgate::agent
