#!/usr/bin/env bash
# The short soak of ./tools/test (issue 16, point 7): tools/soak for 2 minutes, the agent
# SIGKILLed and the proxy restarted gracefully once a minute. It passes with zero failed
# requests (wrk HTTP and HTTPS, xgate-h2load across the proxy restarts), zero broken L4
# connections and lost UDP datagrams, the last route edit served, and the agent's and proxy's
# RSS and fds after the warm-up within a generous bound. No timing is asserted.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require_root
for tool in wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (./tools/setup)" >&2; exit 1; }
done
exec "$here/../../tools/soak" --minutes "${SOAK_MINUTES:-2}" --interval 10 --restart-proxy
