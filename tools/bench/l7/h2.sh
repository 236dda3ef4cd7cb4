# shellcheck shell=bash
# The HTTP/2 section of tools/bench/l7/run (sourced by it, after the HTTP/1.1 rounds): h2load
# over TLS with ALPN h2 against each peer's 443 listener, 10 connections with 10 concurrent
# streams each (100 requests in flight), the same route, backend, CPU placement and CPU
# cgroups as the HTTP/1.1 rows. Uses run's IN_NS, ADDR, TLS_PORT, ROUNDS, DURATION, median,
# cg_prefix, cpu_window_start/end and saturated_side.

# XGATE_H2_CLIENTS, XGATE_H2_STREAMS: other shapes than 10 x 10, to look into one.
H2_CLIENTS=${XGATE_H2_CLIENTS:-10} H2_STREAMS=${XGATE_H2_STREAMS:-10}
declare -A H2_RPS H2_P99 H2_CPU H2_USE_SERVER H2_USE_WRK H2_USE_BACKEND

# h2load against `peer` -> "rps p99_ms cpu_us_per_request server% wrk% backend%". h2load
# prints no percentiles, so p99 comes from its per-request log (start, status, microseconds to
# the end of the response). The server's CPU is its cgroup's, as for the HTTP/1.1 rows.
h2_measure() {
  local peer=$1 log=$WORK/h2load.$1.log out rps requests failed p99 used server_pct wrk_pct backend_pct
  cg_prefix wrk
  cpu_window_start "server-$peer" wrk backend
  out=$("${CG_CMD[@]}" "${IN_NS[@]}" taskset -c 1 h2load -c "$H2_CLIENTS" -m "$H2_STREAMS" \
    -D "$DURATION" --log-file="$log" -H ':authority: bench.example.com' \
    "https://${ADDR[$peer]}:$TLS_PORT/")
  read -r used server_pct wrk_pct backend_pct < <(cpu_window_end "server-$peer")
  grep -q '^Application protocol: h2$' <<<"$out" ||
    { echo "bench: $peer did not negotiate h2:" >&2; echo "$out" >&2; exit 1; }
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  requests=$(awk '/^requests:/ {print $8}' <<<"$out")
  failed=$(awk '/^requests:/ {print $10 + $12 + $14}' <<<"$out")
  ((failed == 0)) || echo "bench: h2 $peer: $failed requests failed, errored or timed out" >&2
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR * 99 + 99) / 100)] / 1000}')
  echo "$rps $p99 $(awk -v u="$used" -v n="$requests" 'BEGIN {printf "%.2f", u / n}')" \
    "$server_pct $wrk_pct $backend_pct"
}

h2_rounds() {
  local round peer rps p99 cpu server_pct wrk_pct backend_pct perf_pid=""
  if [ -n "${XGATE_BENCH_PERF:-}" ]; then
    perf record -g -o "$XGATE_BENCH_PERF" -p "$XGATE_PID" 2>"$WORK/perf.log" &
    perf_pid=$!
    PIDS+=("$perf_pid")
  fi
  for round in $(seq "$ROUNDS"); do
    for peer in xgate nginx haproxy; do
      read -r rps p99 cpu server_pct wrk_pct backend_pct < <(h2_measure "$peer")
      H2_RPS[$peer]+="$rps " H2_P99[$peer]+="$p99 " H2_CPU[$peer]+="$cpu "
      H2_USE_SERVER[$peer]+="$server_pct " H2_USE_WRK[$peer]+="$wrk_pct "
      H2_USE_BACKEND[$peer]+="$backend_pct "
      echo "round $round h2 $peer: $rps req/s, p99 ${p99} ms, ${cpu} us CPU/request;" \
        "CPU % server $server_pct, h2load $wrk_pct, backend $backend_pct" >&2
    done
  done
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  fi
}

# The HTTP/2 rows of run's table.
h2_rows() {
  local x xc peer r p c us uw ub
  x=$(median <<<"${H2_RPS[xgate]}")
  xc=$(median <<<"${H2_CPU[xgate]}")
  for peer in xgate nginx haproxy; do
    r=$(median <<<"${H2_RPS[$peer]}")
    p=$(median <<<"${H2_P99[$peer]}")
    c=$(median <<<"${H2_CPU[$peer]}")
    us=$(median <<<"${H2_USE_SERVER[$peer]}")
    uw=$(median <<<"${H2_USE_WRK[$peer]}")
    ub=$(median <<<"${H2_USE_BACKEND[$peer]}")
    echo "| h2 TLS, ${H2_CLIENTS} conns x ${H2_STREAMS} streams | $peer | $r | $p |" \
      "$(awk -v a="$x" -v b="$r" 'BEGIN {printf "%.2fx", a / b}') | $c |" \
      "$(awk -v a="$xc" -v b="$c" 'BEGIN {printf "%.2fx", b / a}') | $us / $uw / $ub |" \
      "$(saturated_side "$us" "$uw" "$ub") |"
  done
}
