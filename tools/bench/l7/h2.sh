# shellcheck shell=bash
# The HTTP/2 section of tools/bench/l7/run (sourced by it, after the HTTP/1.1 rounds): h2load
# over TLS with ALPN h2 against each peer's 443 listener, 10 connections with 10 concurrent
# streams each (100 requests in flight), the same route, backend and CPU placement as the
# HTTP/1.1 rows. Uses run's IN_NS, ADDR, TLS_PORT, SERVER, ROUNDS, DURATION, TICK_US, median.

# XGATE_H2_CLIENTS, XGATE_H2_STREAMS: other shapes than 10 x 10, to look into one.
H2_CLIENTS=${XGATE_H2_CLIENTS:-10} H2_STREAMS=${XGATE_H2_STREAMS:-10}
declare -A H2_RPS H2_P99 H2_CPU

# User and system CPU ticks of a process so far.
h2_split_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
# Nanoseconds on CPU of all of a process's threads so far (schedstat): ticks are 10 ms, too
# coarse on a loaded machine where a round serves few requests.
h2_cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {printf "%d", n}'; }

# h2load against `peer` -> "rps p99_ms cpu_us_per_request user_us system_us". h2load prints no
# percentiles, so p99 comes from its per-request log (start, status, microseconds to the end
# of the response).
h2_measure() {
  local peer=$1 log=$WORK/h2load.$1.log out rps requests failed before after p99 split
  split=$(h2_split_ticks "${SERVER[$peer]}")
  before=$(h2_cpu_ns "${SERVER[$peer]}")
  out=$("${IN_NS[@]}" taskset -c 1 h2load -c "$H2_CLIENTS" -m "$H2_STREAMS" -D "$DURATION" \
    --log-file="$log" -H ':authority: bench.example.com' "https://${ADDR[$peer]}:$TLS_PORT/")
  after=$(h2_cpu_ns "${SERVER[$peer]}")
  split="$split $(h2_split_ticks "${SERVER[$peer]}")"
  grep -q '^Application protocol: h2$' <<<"$out" ||
    { echo "bench: $peer did not negotiate h2:" >&2; echo "$out" >&2; exit 1; }
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  requests=$(awk '/^requests:/ {print $8}' <<<"$out")
  failed=$(awk '/^requests:/ {print $10 + $12 + $14}' <<<"$out")
  ((failed == 0)) || echo "bench: h2 $peer: $failed requests failed, errored or timed out" >&2
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR * 99 + 99) / 100)] / 1000}')
  echo "$rps $p99 $(awk -v t=$((after - before)) -v n="$requests" 'BEGIN {printf "%.2f", t / 1000 / n}')" \
    "$(awk -v us="$TICK_US" -v n="$requests" '{printf "%.2f %.2f", ($3 - $1) * us / n, ($4 - $2) * us / n}' <<<"$split")"
}

h2_rounds() {
  local round peer rps p99 cpu user system perf_pid=""
  if [ -n "${XGATE_BENCH_PERF:-}" ]; then
    perf record -g -o "$XGATE_BENCH_PERF" -p "${SERVER[xgate]}" 2>"$WORK/perf.log" &
    perf_pid=$!
    PIDS+=("$perf_pid")
  fi
  for round in $(seq "$ROUNDS"); do
    for peer in xgate nginx haproxy; do
      read -r rps p99 cpu user system < <(h2_measure "$peer")
      H2_RPS[$peer]+="$rps " H2_P99[$peer]+="$p99 " H2_CPU[$peer]+="$cpu "
      echo "round $round h2 $peer: $rps req/s, p99 ${p99} ms, ${cpu} us CPU/request" \
        "(from 10 ms ticks: user $user, system $system)" >&2
    done
  done
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  fi
}

# The HTTP/2 rows of run's table.
h2_rows() {
  local x xc peer r p c
  x=$(median <<<"${H2_RPS[xgate]}")
  xc=$(median <<<"${H2_CPU[xgate]}")
  for peer in xgate nginx haproxy; do
    r=$(median <<<"${H2_RPS[$peer]}")
    p=$(median <<<"${H2_P99[$peer]}")
    c=$(median <<<"${H2_CPU[$peer]}")
    echo "| h2 TLS, ${H2_CLIENTS} conns x ${H2_STREAMS} streams | $peer | $r | $p |" \
      "$(awk -v a="$x" -v b="$r" 'BEGIN {printf "%.2fx", a / b}') | $c |" \
      "$(awk -v a="$xc" -v b="$c" 'BEGIN {printf "%.2fx", b / a}') |"
  done
}
