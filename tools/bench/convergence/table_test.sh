#!/usr/bin/env bash
# load_counts.py and table.py on made-up outputs: the failures wrk and h2load report are
# counted, and the table has a row per measure and a column per mode.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../tests/e2e/lib.sh"
work=$(mktemp -d /tmp/xgate-convtable.XXXXXX)
trap 'rm -rf "$work"' EXIT

wrk_out() { # socket-errors-line non2xx-line
  printf 'Running 30s test @ https://198.18.0.1/login\n  1 threads and 8 connections\n'
  printf '  80461 requests in 30.00s, 20.00MB read\n%s%s' "$1" "$2"
  printf 'Requests/sec:   2682.03\n'
}
h2_out() { # failed errored 2xx
  printf 'finished in 30.00s, 9098.03 req/s, 1.08MB/s\n'
  printf 'requests: 1000 total, 1000 started, 1000 done, %d succeeded, %d failed, %d errored, 0 timeout\n' \
    $((1000 - $1 - $2)) "$1" "$2"
  printf 'status codes: %d 2xx, 0 3xx, %d 4xx, 0 5xx\n' "$3" $((1000 - $3))
}
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])" "$1"; }

wrk_out "" "" >"$work/wrk.ok"
h2_out 0 0 1000 >"$work/h2.ok"
clean=$(python3 "$here/load_counts.py" folder "$work/wrk.ok" "$work/h2.ok")
expect_eq "clean load: no failure" "$(field failures <<<"$clean")" 0
expect_eq "clean load: wrk requests read" "$(field wrk_requests <<<"$clean")" 80461

wrk_out "  Socket errors: connect 0, read 3, write 0, timeout 1
" "  Non-2xx or 3xx responses: 5
" >"$work/wrk.bad"
h2_out 2 1 990 >"$work/h2.bad"
bad=$(python3 "$here/load_counts.py" kube "$work/wrk.bad" "$work/h2.bad")
expect_eq "wrk: resets and timeouts counted" "$(field wrk_socket_errors <<<"$bad")" 4
expect_eq "h2load: non-2xx counted" "$(field h2_non2xx <<<"$bad")" 10
expect_eq "every failure summed" "$(field failures <<<"$bad")" $((4 + 5 + 10 + 3))
echo "not wrk" >"$work/empty"
unread=$(python3 "$here/load_counts.py" kube "$work/empty" "$work/empty")
expect_eq "unreadable outputs are failures" "$(field failures <<<"$unread")" 2

cat >"$work/results.jsonl" <<JSON
{"part":"latency","mode":"folder","routes":0,"l4":0,"change":"new HTTPRoute","load":"idle","ms":[10,20,30],"timeouts":0,"stopped":false}
{"part":"latency","mode":"kube","routes":0,"l4":0,"change":"new HTTPRoute","load":"idle","ms":[],"timeouts":3,"stopped":true}
{"part":"start","mode":"folder","routes":1000,"l4":0,"unix_ms":1000}
{"part":"served","mode":"folder","routes":1000,"l4":0,"what":"r999.example.com","unix_ms":3500}
{"part":"start","mode":"folder","routes":0,"l4":1000,"unix_ms":1000}
{"part":"served","mode":"folder","routes":0,"l4":1000,"what":"udp:30049"}
{"part":"rss","mode":"folder","routes":1000,"l4":0,"at":"with 1000 routes","agent_mb":90.2,"proxy_mb":25.0}
$clean
$bad
JSON
table=$(python3 "$here/table.py" "$work/results.jsonl" --markdown "$work/table.md")
check "table printed" test -n "$table"
expect_eq "one column per mode" "$(head -n 1 "$work/table.md")" "| measure | standalone (folder) | API server |"
check "p50/p99 of the runs" grep -q "new HTTPRoute, idle .*p50 20.0 / p99 30.0 ms (3 runs)" <<<"$table"
check "a series that timed out says so" grep -q "0 runs, 3 TIMED OUT, stopped" <<<"$table"
check "cold start from the agent's start" grep -q "1000 HTTPRoutes: agent start -> last served *2500 ms" <<<"$table"
check "an L4 bed never served says so" grep -q "1000 TCP/UDP routes: agent start -> last served *NEVER SERVED" <<<"$table"
check "the swap failures" grep -q "wrk 5 non-2xx, 4 socket errors of 80461" <<<"$table"
e2e_summary
