#!/usr/bin/env bash
# A real Prometheus server (/usr/bin/prometheus, Debian package prometheus) scrapes the agent
# in its node namespace every second and answers PromQL over xgate's counters through its HTTP
# API: the target is up with no scrape error, the proxy's request counter moved by exactly the
# requests sent, their rate and a latency quantile are computed, the fast path's punt counter
# moved. Prometheus runs with its own config and storage in the bed's temp folder, on the node
# namespace's loopback; the bed stops it by its PID.
source "$(dirname "$0")/../e2e/bed.sh"
command -v prometheus >/dev/null || { echo "prometheus is not installed (run ./tools/setup)" >&2; exit 1; }
PROM=127.0.0.1:9090

seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }

mkdir -p "$SEED_WORK/prometheus"
cat >"$SEED_WORK/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: xgate
  static_configs:
  - targets: ["$SEED_METRICS_ADDR"]
YAML
ip netns exec "$SEED_NODE" prometheus --config.file="$SEED_WORK/prometheus/prometheus.yml" \
  --storage.tsdb.path="$SEED_WORK/prometheus/data" --web.listen-address="$PROM" \
  >"$SEED_WORK/prometheus/log" 2>&1 &
SEED_PIDS+=($!)

prom_get() { ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$PROM$1" "${@:2}"; }
# The value of a PromQL expression that gives one sample ("" when it gives none).
promql() {
  prom_get /api/v1/query --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // ""'
}
# Waits up to $1 s for the expression $2 to give a value for which `test VALUE $3 $4` holds.
promql_until() {
  local deadline=$((SECONDS + $1)) value
  while true; do
    value=$(promql "$2")
    [ -n "$value" ] && [ "$value" != NaN ] && awk -v v="$value" -v op="$3" -v w="$4" \
      'BEGIN {exit !((op == "==" && v == w) || (op == ">" && v > w))}' && { echo "$value"; return 0; }
    ((SECONDS < deadline)) || { echo "${value:-none}"; return 1; }
    sleep 0.5
  done
}

ready() { [ "$(prom_get /-/ready)" = "Prometheus Server is Ready." ]; }
check "prometheus ready" seed_wait 30 ready || tail -n 20 "$SEED_WORK/prometheus/log"
up=$(promql_until 30 'up{job="xgate"}' == 1)
check "up{job=\"xgate\"} == 1 (got $up)" test "$up" = 1
targets=$(prom_get /api/v1/targets)
expect_eq "target health and last scrape error" \
  "$(jq -r '.data.activeTargets[0] | "\(.health) [\(.lastError)]"' <<<"$targets")" "up []"

bar='sum(xgate_proxy_requests_total{route="bar/bar-route",code="200"})'
before=$(promql "$bar")
before=${before:-0}
sent=30
for _ in $(seq $sent); do seed_curl_ok https://bar.example.com/ || fail "request to bar failed"; done
after=$(promql_until 30 "$bar" == $((before + sent)))
expect_eq "$bar moved by the $sent requests sent" "$after" "$((before + sent))"
rate=$(promql_until 30 'sum(rate(xgate_proxy_requests_total{route="bar/bar-route"}[15s]))' '>' 0)
check "rate(xgate_proxy_requests_total{route=\"bar/bar-route\"}[15s]) > 0 (got $rate)" \
  awk -v v="$rate" 'BEGIN {exit !(v > 0)}'
p50=$(promql_until 30 \
  'histogram_quantile(0.5, sum by (le) (rate(xgate_proxy_request_duration_seconds_bucket{route="bar/bar-route"}[15s])))' '>' 0)
check "median request duration of bar-route from the histogram, 0 < p50 <= 10 s (got $p50)" \
  awk -v v="$p50" 'BEGIN {exit !(v > 0 && v <= 10)}'
punted=$(promql_until 30 'sum(xgate_fastpath_listener_packets_total{kind="punt"})' '>' "$sent")
check "fast path: punted packets counted (got $punted, more than $sent)" \
  awk -v v="$punted" -v n="$sent" 'BEGIN {exit !(v > n)}'

seedbed_down
e2e_summary
