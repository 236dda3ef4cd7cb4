# shellcheck shell=bash
# The HTTP/2 section of tools/bench/l7/run (sourced by it, after the HTTP/1.1 rounds): h2load
# over TLS with ALPN h2 against each peer's 443 listener, 10 connections with 10 concurrent
# streams each (100 requests in flight), the same route, backend, CPU placement and CPU
# cgroups as the HTTP/1.1 rows. Uses run's IN_NS, ADDR, TLS_PORT, ROUNDS, DURATION, median,
# cg_prefix, cpu_window_start/end and saturated_side.

# XGATE_H2_CLIENTS, XGATE_H2_STREAMS: other shapes than 10 x 10, to look into one.
H2_CLIENTS=${XGATE_H2_CLIENTS:-10} H2_STREAMS=${XGATE_H2_STREAMS:-10}
declare -A H2_RPS H2_P99 H2_CPU H2_USE_SERVER H2_USE_WRK H2_USE_BACKEND H2_MORE

# h2load against `peer` at `url`, with `args` added -> "rps p99_ms cpu_us_per_request server%
# wrk% backend% failed". h2load prints no percentiles, so p99 comes from its per-request log
# (start, status, microseconds to the end of the response). The server's CPU is its cgroup's,
# as for the HTTP/1.1 rows. h2load's whole output stays in $WORK/h2load.PEER.out (its -v
# lines, when asked for, for the gRPC rows' status count); "failed": the requests h2load
# counted failed (not 2xx or reset), errored or timed out.
h2load_measure() {
  local peer=$1 url=$2 log=$WORK/h2load.$1.log out=$WORK/h2load.$1.out summary rps requests
  local failed p99 used server_pct wrk_pct backend_pct
  shift 2
  cg_prefix wrk
  cpu_window_start "server-$peer" wrk backend
  "${CG_CMD[@]}" "${IN_NS[@]}" taskset -c 1 h2load -c "$H2_CLIENTS" -m "$H2_STREAMS" \
    -D "$DURATION" --log-file="$log" "$@" "$url" >"$out"
  read -r used server_pct wrk_pct backend_pct < <(cpu_window_end "server-$peer")
  summary=$(grep -a -E '^(finished in|requests:|Application protocol:)' "$out")
  grep -q '^Application protocol: h2$' <<<"$summary" ||
    { echo "bench: $peer did not negotiate h2:" >&2; grep -av '^\[stream_id=' "$out" >&2; exit 1; }
  rps=$(awk '/^finished in/ {print $4}' <<<"$summary")
  requests=$(awk '/^requests:/ {print $8}' <<<"$summary")
  failed=$(awk '/^requests:/ {print $10 + $12 + $14}' <<<"$summary")
  ((failed == 0)) || echo "bench: $peer $url: $failed requests failed, errored or timed out" >&2
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR * 99 + 99) / 100)] / 1000}')
  echo "$rps $p99 $(awk -v u="$used" -v n="$requests" 'BEGIN {printf "%.2f", u / n}')" \
    "$server_pct $wrk_pct $backend_pct $failed"
}

h2_measure() {
  h2load_measure "$1" "https://${ADDR[$1]}:$TLS_PORT/" -H ':authority: bench.example.com'
}

# ROUNDS interleaved rounds of `measure` (a function: PEER -> h2load_measure's fields, then
# any more, which are kept in H2_MORE) for the rows of `kind`; `label` names it on stderr.
h2load_rounds() {
  local kind=$1 label=$2 measure=$3 round peer rps p99 cpu server_pct wrk_pct backend_pct more
  for round in $(seq "$ROUNDS"); do
    for peer in xgate nginx haproxy; do
      read -r rps p99 cpu server_pct wrk_pct backend_pct _ more < <("$measure" "$peer")
      H2_RPS[$kind/$peer]+="$rps " H2_P99[$kind/$peer]+="$p99 " H2_CPU[$kind/$peer]+="$cpu "
      H2_USE_SERVER[$kind/$peer]+="$server_pct " H2_USE_WRK[$kind/$peer]+="$wrk_pct "
      H2_USE_BACKEND[$kind/$peer]+="$backend_pct " H2_MORE[$kind/$peer]+="$more "
      echo "round $round $label $peer: $rps req/s, p99 ${p99} ms, ${cpu} us CPU/request;" \
        "CPU % server $server_pct, h2load $wrk_pct, backend $backend_pct" >&2
    done
  done
}

h2_rounds() {
  local perf_pid=""
  if [ -n "${XGATE_BENCH_PERF:-}" ]; then
    perf record -g -o "$XGATE_BENCH_PERF" -p "$XGATE_PID" 2>"$WORK/perf.log" &
    perf_pid=$!
    PIDS+=("$perf_pid")
  fi
  h2load_rounds h2 h2 h2_measure
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  fi
}

# The rows of run's table for `kind`, the first column `label`.
h2load_rows() {
  local kind=$1 label=$2 x xc peer r p c us uw ub
  x=$(median <<<"${H2_RPS[$kind/xgate]}")
  xc=$(median <<<"${H2_CPU[$kind/xgate]}")
  for peer in xgate nginx haproxy; do
    r=$(median <<<"${H2_RPS[$kind/$peer]}")
    p=$(median <<<"${H2_P99[$kind/$peer]}")
    c=$(median <<<"${H2_CPU[$kind/$peer]}")
    us=$(median <<<"${H2_USE_SERVER[$kind/$peer]}")
    uw=$(median <<<"${H2_USE_WRK[$kind/$peer]}")
    ub=$(median <<<"${H2_USE_BACKEND[$kind/$peer]}")
    echo "| $label | $peer | $r | $p |" \
      "$(awk -v a="$x" -v b="$r" 'BEGIN {printf "%.2fx", a / b}') | $c |" \
      "$(awk -v a="$xc" -v b="$c" 'BEGIN {printf "%.2fx", b / a}') | $us / $uw / $ub |" \
      "$(saturated_side "$us" "$uw" "$ub") |"
  done
}

h2_rows() { h2load_rows h2 "h2 TLS, ${H2_CLIENTS} conns x ${H2_STREAMS} streams"; }
