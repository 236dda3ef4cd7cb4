#!/usr/bin/env bash
# Config swaps under load (issue #15, the short version): the seed in Kubernetes mode, wrk
# (HTTP/1.1 over TLS, keep-alive) and h2load (HTTP/2 over TLS) loading foo.example.com/login
# while another route changes SWAPS times through the API server, each change waited for
# until the proxy serves its generation. Passes only with zero non-2xx answers and zero socket
# errors on both clients. No timing is asserted.
source "$(dirname "$0")/bed.sh"
source "$here/../../tools/lib/kubebed.sh"
command -v kubectl >/dev/null || { echo "skipped: kubectl not installed" >&2; exit 77; }
for tool in wrk h2load; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed" >&2; exit 77; }
done

SWAPS=${SWAPS:-60}
# The load's duration (both clients end on their own); it must outlast the swaps.
LOAD_SECONDS=${LOAD_SECONDS:-60}

seedbed_up v1 || { fail "test bed up"; kube_down; e2e_summary; exit 1; }
LOAD_PIDS=()
swap_down() {
  local p
  if ((${#LOAD_PIDS[@]})); then
    kill "${LOAD_PIDS[@]}" 2>/dev/null
    wait "${LOAD_PIDS[@]}" 2>/dev/null
  fi
  kube_down
}
trap swap_down EXIT

proxy_generation() { seed_metrics | metric_sum xgate_proxy_config_generation; }
api() { # method path [json]
  ip netns exec "$SEED_NODE" curl -sS --max-time 5 --cacert "$API_DIR/ca.crt" -o /dev/null \
    -w '%{http_code}' -X "$1" -H "Authorization: Bearer $(cat "$API_DIR/admin.token")" \
    -H 'Content-Type: application/merge-patch+json' ${3:+-d "$3"} \
    "$(cat "$API_DIR/server.url")$2"
}
churn=/apis/gateway.networking.k8s.io/v1/namespaces/foo/httproutes/churn
cat >"$SEED_WORK/churn.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: churn, namespace: foo}
spec:
  parentRefs: [{name: prod-web, namespace: default}]
  hostnames: [churn-0.example.com]
  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]
YAML
kube apply -f "$SEED_WORK/churn.yaml" >/dev/null || fail "churn route created"
churn_served() { seed_curl_ok https://churn-0.example.com/; }
check "churn route served" seed_wait 20 churn_served

# HTTP/1.1 (wrk: SNI-less, the catch-all certificate; Host picks the route) and HTTP/2
# (h2load: SNI and :authority foo.example.com, connected to the node). Both closed-loop, on
# one CPU at a lower priority, so the agent and the API server still get time for the swaps.
# Run in the background only: `exec` makes $! the load generator itself (ip netns exec, nice
# and taskset exec in turn), so the cleanup's kill stops it, not a subshell around it.
load() { exec ip netns exec "$SEED_CLIENT" nice -n 10 taskset -c 1 "$@"; }
load wrk -t1 -c8 -d"${LOAD_SECONDS}s" -H 'Host: foo.example.com' \
  "https://$SEED_NODE_IP/login" >"$SEED_WORK/wrk.out" 2>&1 &
LOAD_PIDS+=($!)
load h2load -c4 -m8 -D "$LOAD_SECONDS" \
  --connect-to="$SEED_NODE_IP:443" https://foo.example.com/login >"$SEED_WORK/h2load.out" 2>&1 &
LOAD_PIDS+=($!)
loaded() { [ "$(seed_metrics | metric_sum xgate_proxy_requests_total 'code="200"')" -gt 100 ]; }
check "load running" seed_wait 20 loaded

swapped=0
start=$SECONDS
for i in $(seq "$SWAPS"); do
  before=$(proxy_generation)
  [ -n "${SWAP_TRACE:-}" ] && echo "swap $i: patch $(date +%T.%N)"
  code=$(api PATCH "$churn" "{\"spec\":{\"hostnames\":[\"churn-$i.example.com\"]}}")
  [ -n "${SWAP_TRACE:-}" ] && echo "swap $i: patched $(date +%T.%N)"
  [ "$code" = 200 ] || { fail "swap $i: PATCH answered $code"; break; }
  newer() { [ "$(proxy_generation)" -gt "$before" ]; }
  seed_wait 10 newer || { fail "swap $i: the proxy did not take a new generation"; break; }
  [ -n "${SWAP_TRACE:-}" ] && echo "swap $i: served $(date +%T.%N)"
  swapped=$i
done
took=$((SECONDS - start))
expect_eq "config swaps under load ($took s)" "$swapped" "$SWAPS"
check "the load outlasted the swaps" kill -0 "${LOAD_PIDS[0]}"
check "last churn hostname served" seed_curl_ok "https://churn-$SWAPS.example.com/"

wait "${LOAD_PIDS[@]}" 2>/dev/null
LOAD_PIDS=()
cat "$SEED_WORK/wrk.out"
grep -E "requests:|status codes:" "$SEED_WORK/h2load.out"
wrk_requests=$(awk '/requests in/ {print $1}' "$SEED_WORK/wrk.out")
check "wrk made requests (${wrk_requests:-0})" test "${wrk_requests:-0}" -gt 0
check "wrk: no non-2xx answer" bash -c "! grep -q 'Non-2xx' '$SEED_WORK/wrk.out'"
check "wrk: no socket error (connect, read, write, timeout)" \
  bash -c "! grep -q 'Socket errors' '$SEED_WORK/wrk.out'"
h2_line=$(grep -E '^requests:' "$SEED_WORK/h2load.out")
h2_done=$(sed -E 's/.* ([0-9]+) done.*/\1/' <<<"$h2_line")
h2_ok=$(sed -E 's/.* ([0-9]+) succeeded.*/\1/' <<<"$h2_line")
h2_2xx=$(sed -nE 's/^status codes: ([0-9]+) 2xx.*/\1/p' "$SEED_WORK/h2load.out")
check "h2load made requests (${h2_done:-0})" test "${h2_done:-0}" -gt 0
expect_eq "h2load: every request done succeeded" "${h2_ok:-}" "${h2_done:-x}"
expect_eq "h2load: every answer 2xx" "${h2_2xx:-}" "${h2_done:-x}"
check "h2load: no failed, errored or timed-out request" \
  grep -qE ' 0 failed, 0 errored, 0 timeout' <<<"$h2_line"

e2e_summary
