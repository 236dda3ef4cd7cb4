#!/usr/bin/env bash
# A real Prometheus server (/usr/bin/prometheus, Debian package prometheus) scrapes the agent
# in its node namespace every second and answers PromQL over xgate's counters through its HTTP
# API: the target is up with no scrape error, the proxy's request counter moved by exactly the
# requests sent, their rate and a latency quantile are computed, the fast path's punt counter
# moved; the Grafana dashboard's queries are checked against what it scraped. Prometheus runs
# with its own config and storage in the bed's temp folder, on the node namespace's loopback
# (tools/lib/seedbed.sh seed_prometheus); the bed stops it by its PID.
source "$(dirname "$0")/../e2e/bed.sh"
seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }
check "prometheus ready" seed_prometheus

# The value of a PromQL expression that gives one sample ("" when it gives none).
promql() {
  seed_prom_get /api/v1/query --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // ""'
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

up=$(promql_until 30 'up{job="xgate"}' == 1)
check "up{job=\"xgate\"} == 1 (got $up)" test "$up" = 1
# Health of the last scrape (waited for: one that times out on a loaded machine says "down").
target_health() {
  seed_prom_get /api/v1/targets | jq -r '.data.activeTargets[0] | "\(.health) [\(.lastError)]"'
}
seed_wait 30 eval '[ "$(target_health)" = "up []" ]'
expect_eq "target health and last scrape error" "$(target_health)" "up []"

bar='sum(xgate_proxy_requests_total{route="bar/bar-route",code="200"})'
before=$(promql "$bar")
before=${before:-0}
sent=30
# In two halves with a scrape between them: the route's series appear with its first request,
# so a burst that fits between two scrapes would give a series that never moves (rate 0).
for _ in $(seq $((sent / 2))); do seed_curl_ok https://bar.example.com/ || fail "request to bar failed"; done
half=$(promql_until 30 "$bar" == $((before + sent / 2)))
expect_eq "$bar moved by the first $((sent / 2)) requests" "$half" "$((before + sent / 2))"
for _ in $(seq $((sent - sent / 2))); do seed_curl_ok https://bar.example.com/ || fail "request to bar failed"; done
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

# The Grafana dashboard (deploy/grafana/xgate-dashboard.json) against what Prometheus scraped:
# every query is valid PromQL, every metric it reads is on the agent's page, and the panels of
# the traffic just sent show data. Grafana's variables become what Grafana would put there.
dashboard="$XGATE_ROOT/deploy/grafana/xgate-dashboard.json"
mapfile -t exprs < <(jq -r '.panels[].targets[]?.expr' "$dashboard" |
  sed -e 's/\$__rate_interval/15s/g' -e 's/\$instance/.*/g')
check "the dashboard has queries (${#exprs[@]})" test "${#exprs[@]}" -gt 20
mapfile -t names < <(printf '%s\n' "${exprs[@]}" | grep -o 'xgate_[a-z0-9_]*' | sort -u)
page=$(ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$SEED_METRICS_ADDR/metrics")
for name in "${names[@]}"; do
  family=${name%_bucket}
  # The Lease is Kubernetes mode's (this bed is a manifest folder): e2e_kube_cluster checks it.
  [[ $family == xgate_agent_lease_* ]] && continue
  check "dashboard metric $family is on the agent's page" grep -q "^# TYPE $family " <<<"$page"
done
# The panels of the traffic sent show data (waited for: a scrape that times out on a loaded
# machine leaves a moment with no sample).
has_data() { [ "$(seed_prom_get /api/v1/query --data-urlencode "query=$1" | jq '.data.result | length')" -gt 0 ]; }
empty=()
for expr in "${exprs[@]}"; do
  answer=$(seed_prom_get /api/v1/query --data-urlencode "query=$expr")
  check "dashboard query is valid PromQL: $expr" test "$(jq -r .status <<<"$answer")" = success
  [ "$(jq '.data.result | length' <<<"$answer")" -gt 0 ] || empty+=("$expr")
done
for expr in "${exprs[@]}"; do
  case $expr in
    'sum by (code) (rate(xgate_proxy_requests_total'* | \
      'histogram_quantile(0.5, sum by (le) (rate(xgate_proxy_request_duration_seconds_bucket'* | \
      'sum by (path) (rate(xgate_fastpath_path_packets_total'* | \
      'sum by (result, reason) (rate(xgate_proxy_tls_handshakes_total'* | \
      'max(xgate_agent_snapshot_generation'*)
      check "dashboard panel shows data: $expr" seed_wait 30 has_data "$expr" ;;
  esac
done
echo "dashboard queries with no data in this bed (no such traffic): ${#empty[@]}"
printf '  %s\n' "${empty[@]}"

seedbed_down
e2e_summary
