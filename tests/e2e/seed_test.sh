#!/usr/bin/env bash
# The seed scenario end to end: the agent on the article's manifests (v1alpha1 verbatim, or
# seed-v1), real TLS clients in a client namespace, echo backends in their own namespaces.
# Usage: seed_test.sh v1alpha1|v1
source "$(dirname "$0")/bed.sh"

version=${1:?v1alpha1 or v1}
seedbed_up "$version" || { fail "test bed up"; e2e_summary; exit 1; }

xgatectl() { "$XGATE_BUILD/xgatectl" --socket "$SEED_WORK/admin.sock" "$@"; }
# Requests the proxy counted (xgatectl get counters) for route $1 and backend cluster $2.
proxy_count() {
  xgatectl get counters -o json |
    jq -r --arg r "$1" --arg b "$2" \
      '[.proxy.requests[] | select(.route == $r and .backend == $b) | .count | tonumber] | add // 0'
}
scraped_count() {
  seed_metrics | metric_sum xgate_proxy_requests_total "route=\"$1\",backend=\"$2\""
}
snapshot_generation() { seed_metrics | metric_sum xgate_agent_snapshot_generation ""; }

jq_true() { jq -e "$@" >/dev/null; }
# Each route Accepted and ResolvedRefs on its parent prod-web, as `xgatectl get routes` has it.
routes_json=$(xgatectl get routes -o json)
for route in foo-route bar-route; do
  check "get routes: $route Accepted and ResolvedRefs True on prod-web" jq_true --arg r "$route" \
    '[.items[] | select(.kind == "HTTPRoute" and .metadata.name == $r) | .status.parents[]
      | select(.parentRef.name == "prod-web") | .conditions[]
      | select((.type == "Accepted" or .type == "ResolvedRefs") and .status == "True")]
     | length == 2' <<<"$routes_json"
done

explain_bar() {
  xgatectl explain request --listener "$SEED_NODE_IP:443" --sni bar.example.com --path / "$@" -o json
}
expect_eq "explain env: canary -> bar-route rule 1, bar-v2 only" \
  "$(explain_bar -H 'env: canary' | jq -c '.request | [.route, .ruleIndex,
      [.backends[] | [.service, .weight]]]')" '["HTTPRoute bar/bar-route",1,[["bar/bar-v2",1]]]'
expect_eq "explain without the header -> bar-route rule 0, bar-v1 90 / bar-v2 10" \
  "$(explain_bar | jq -c '.request | [.route, .ruleIndex,
      [.backends[] | [.service, .weight, .sharePercent]]]')" \
  '["HTTPRoute bar/bar-route",0,[["bar/bar-v1",90,90],["bar/bar-v2",10,10]]]'

expect_eq "foo /login -> foo-auth" "$(seed_pod https://foo.example.com/login)" foo-auth-0
expect_eq "foo /login/x -> foo-auth" "$(seed_pod https://foo.example.com/login/x)" foo-auth-0
expect_eq "foo /home -> foo-home" "$(seed_pod https://foo.example.com/home)" foo-home-0
expect_eq "foo /anything-else -> foo-404" "$(seed_pod https://foo.example.com/anything-else)" foo-404-0
expect_eq "foo /loginx -> foo-404 (prefix on segment boundaries)" \
  "$(seed_pod https://foo.example.com/loginx)" foo-404-0

v1_cluster=bar/bar-v1:8080 v2_cluster=bar/bar-v2:8080
before_ctl=("$(proxy_count bar/bar-route $v1_cluster)" "$(proxy_count bar/bar-route $v2_cluster)")
before_scrape=("$(scraped_count bar/bar-route $v1_cluster)" "$(scraped_count bar/bar-route $v2_cluster)")
declare -A count=()
for _ in $(seq 200); do
  pod=$(seed_pod https://bar.example.com/)
  count[$pod]=$((${count[$pod]:-0} + 1))
done
v1=$((${count[bar-v1-0]:-0} + ${count[bar-v1-1]:-0}))
v2=${count[bar-v2-0]:-0}
echo "bar split over 200: bar-v1-0=${count[bar-v1-0]:-0} bar-v1-1=${count[bar-v1-1]:-0} bar-v2-0=$v2"
# 90% of 200 is 180 with a standard deviation of 4.2: 161..199 is 4.5 deviations, a false
# failure once in about 150,000 runs (170..190 failed about once in 50), while a 50/50 or
# 100/0 split still fails.
check "bar 90/10 within 4.5 standard deviations (bar-v1 $v1/200, want 161..199)" \
  test "$v1" -ge 161 -a "$v1" -le 199 -a $((v1 + v2)) -eq 200
check "both bar-v1 endpoints used" test "${count[bar-v1-0]:-0}" -gt 0 -a "${count[bar-v1-1]:-0}" -gt 0
# The proxy's counters and the agent's /metrics moved by exactly what curl saw, per backend.
expect_eq "get counters: bar-route requests moved by the 200 sent (v1 v2)" \
  "$(($(proxy_count bar/bar-route $v1_cluster) - before_ctl[0])) \
$(($(proxy_count bar/bar-route $v2_cluster) - before_ctl[1]))" "$v1 $v2"
expect_eq "/metrics: xgate_proxy_requests_total moved by the 200 sent (v1 v2)" \
  "$(($(scraped_count bar/bar-route $v1_cluster) - before_scrape[0])) \
$(($(scraped_count bar/bar-route $v2_cluster) - before_scrape[1]))" "$v1 $v2"

canary_ok=1
for _ in $(seq 20); do
  [ "$(seed_pod https://bar.example.com/ -H 'env: canary')" = bar-v2-0 ] || canary_ok=0
done
check "env: canary always -> bar-v2 (20 of 20)" test $canary_ok = 1

expect_eq "unknown host -> 404 from the gateway" \
  "$(seed_curl https://nope.example.com/ -o /dev/null -w '%{http_code}')" 404
expect_eq "TLS 1.2 works" \
  "$(seed_curl https://foo.example.com/home --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}')" 200
expect_eq "TLS 1.3 works" \
  "$(seed_curl https://foo.example.com/home --tlsv1.3 -o /dev/null -w '%{http_code}')" 200
expect_eq "h2 over TLS" \
  "$(seed_curl https://foo.example.com/home --http2 -o /dev/null -w '%{http_version}')" 2
check "TLS 1.1 refused" \
  bash -c "! ip netns exec $SEED_CLIENT openssl s_client -connect $SEED_NODE_IP:443 -tls1_1 \
    -servername foo.example.com </dev/null >/dev/null 2>&1"
check "nothing listens on port 80" \
  bash -c "! ip netns exec $SEED_CLIENT curl -s --max-time 3 -o /dev/null http://$SEED_NODE_IP/"

# Smuggling attempt sent raw over TLS: refused with 400, never forwarded.
raw=$(printf 'POST /login HTTP/1.1\r\nHost: foo.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
  ip netns exec "$SEED_CLIENT" timeout 5 openssl s_client -quiet -connect "$SEED_NODE_IP:443" \
    -servername foo.example.com -CAfile "$SEED_WORK/certs/ca.pem" 2>/dev/null | head -n 1 | tr -d '\r')
expect_eq "CL+TE request refused" "$raw" "HTTP/1.1 400 Bad Request"

# Secret rotation while a client keeps a connection open: the old connection keeps working,
# new handshakes get the new certificate.
old_serial=$(ip netns exec "$SEED_CLIENT" openssl s_client -connect "$SEED_NODE_IP:443" \
  -servername foo.example.com </dev/null 2>/dev/null | openssl x509 -noout -serial)
coproc HELD { ip netns exec "$SEED_CLIENT" openssl s_client -quiet -connect "$SEED_NODE_IP:443" \
  -servername foo.example.com -CAfile "$SEED_WORK/certs/ca.pem" 2>/dev/null; }
printf 'GET /home HTTP/1.1\r\nHost: foo.example.com\r\n\r\n' >&"${HELD[1]}"
read -r -t 5 first <&"${HELD[0]}"
seed_issue "$SEED_WORK/certs" rotated
seed_secret rotated
new_serial() {
  local s
  s=$(ip netns exec "$SEED_CLIENT" openssl s_client -connect "$SEED_NODE_IP:443" \
    -servername foo.example.com </dev/null 2>/dev/null | openssl x509 -noout -serial)
  [ -n "$s" ] && [ "$s" != "$old_serial" ]
}
check "rotated certificate served to new connections" seed_wait 20 new_serial
# Drain the first response, then send a second request on the held connection.
while read -r -t 1 line <&"${HELD[0]}"; do :; done
printf 'GET /login HTTP/1.1\r\nHost: foo.example.com\r\nConnection: close\r\n\r\n' >&"${HELD[1]}"
read -r -t 5 second <&"${HELD[0]}"
expect_eq "held connection answered before rotation" "${first%$'\r'}" "HTTP/1.1 200 OK"
expect_eq "held connection still answers after rotation" "${second%$'\r'}" "HTTP/1.1 200 OK"
kill "$HELD_PID" 2>/dev/null

# A bad manifest through `xgatectl apply` is refused with its reason (file, line, field), and
# what was serving goes on serving the same snapshot.
generation=$(snapshot_generation)
printf '%s\n' "apiVersion: gateway.networking.k8s.io/v1" "kind: HTTPRoute" \
  "metadata: {name: bad-path, namespace: foo}" "spec:" "  parentRefs: [{name: prod-web, namespace: default}]" \
  "  rules:" "  - matches: [{path: {type: Prefix, value: /x}}]" >"$SEED_WORK/bad-path.yaml"
printf 'kind: HTTPRoute\nmetadata: [name: broken\n' >"$SEED_WORK/broken.yaml"
declare -A why=()
for bad in bad-path broken; do
  why[$bad]=$(xgatectl apply -f "$SEED_WORK/$bad.yaml" 2>&1)
  rc=$?
  echo "apply -f $bad.yaml: exit $rc: ${why[$bad]}"
  check "apply -f $bad.yaml refused (exit $rc)" test "$rc" -ne 0
  check "apply -f $bad.yaml: the reason names the file" grep -qF "$SEED_WORK/$bad.yaml:" <<<"${why[$bad]}"
done
check "apply -f bad-path.yaml: the reason names the field" \
  grep -qF 'spec.rules[0].matches[0].path.type: Unsupported value: "Prefix"' <<<"${why[bad-path]}"
check "apply -f broken.yaml: the reason says YAML syntax" grep -qF 'YAML syntax error' <<<"${why[broken]}"
expect_eq "foo still served after the refused applies" \
  "$(seed_pod https://foo.example.com/login)" foo-auth-0
expect_eq "bar still served after the refused applies" \
  "$(seed_pod https://bar.example.com/ -H 'env: canary')" bar-v2-0
expect_eq "snapshot generation unchanged by the refused applies" "$(snapshot_generation)" "$generation"
check "snapshot generation read (not 0)" test "$generation" -gt 0

seedbed_down
e2e_summary
