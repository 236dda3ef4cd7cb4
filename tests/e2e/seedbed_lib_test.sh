#!/usr/bin/env bash
# tools/lib/seedbed.sh's process tracking and start wait, without a bed (no root needed):
# - a stand-in agent starts a stand-in proxy (its child, its pid in the pid file), is tracked
#   and SIGKILLed, as tools/soak does; the proxy, orphaned, is stopped by seed_stop_tracked,
#   and so is a tracked process that ignores SIGTERM (SIGKILL after the bound);
# - a pid whose start time differs from the tracked one (a reused pid) is left alone;
# - seed_start_wait grows with SEED_ROUTES and is bounded.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
XGATE_BUILD=${XGATE_BUILD:-/nonexistent}
source "$here/../../tools/lib/seedbed.sh"
SEED_WORK=$(mktemp -d /tmp/xgate-seedbed-lib.XXXXXX)
OWN=()
cleanup() {
  local pid
  for pid in ${OWN[@]+"${OWN[@]}"}; do kill -KILL "$pid" 2>/dev/null; done
  for pid in ${OWN[@]+"${OWN[@]}"}; do wait "$pid" 2>/dev/null; done
  rm -rf "$SEED_WORK"
}
trap cleanup EXIT

running() { local f; f=$(seed_proc_stat "$1") && [ "${f%% *}" != Z ]; }

# The stand-in agent: starts its "proxy" (a sleep in its own process), writes the pid file,
# waits.
bash -c 'sleep 300 & echo $! >"$1/proxy.sock.proxy-pid"; wait' agent "$SEED_WORK" &
SEED_AGENT_PID=$!
OWN+=("$SEED_AGENT_PID")
seed_wait 10 test -s "$SEED_WORK/proxy.sock.proxy-pid"
proxy=$(cat "$SEED_WORK/proxy.sock.proxy-pid")
OWN+=("$proxy")
seed_track_agent
kill -KILL "$SEED_AGENT_PID"
wait "$SEED_AGENT_PID" 2>/dev/null
SEED_AGENT_PID=
check "the agent's proxy outlives the SIGKILLed agent" running "$proxy"

# A process that ignores SIGTERM, started by the bed.
bash -c 'trap "" TERM; while :; do sleep 0.1; done' &
stubborn=$!
OWN+=("$stubborn")
SEED_PIDS=("$stubborn")
seed_track "$stubborn"

# A process tracked under another start time (as if its pid had been reused).
sleep 300 &
other=$!
OWN+=("$other")
SEED_TRACKED+=("$other:1")

started=$SECONDS
seed_stop_tracked
check "the orphaned proxy is stopped" eval "! running $proxy"
check "the process ignoring SIGTERM is SIGKILLed" eval "! running $stubborn"
check "the SIGKILL comes within the bound ($((SECONDS - started)) s)" test $((SECONDS - started)) -le 12
check "a pid tracked under another start time is left alone" running "$other"

SEED_ROUTES=0
expect_eq "start wait, no routes" "$(seed_start_wait)" 30
SEED_ROUTES=10000
expect_eq "start wait, 10,000 routes" "$(seed_start_wait)" 230
SEED_ROUTES=1000000
expect_eq "start wait, bounded" "$(seed_start_wait)" 600

e2e_summary
