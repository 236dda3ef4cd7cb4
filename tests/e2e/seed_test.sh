#!/usr/bin/env bash
# The seed scenario end to end: the agent on the article's manifests (v1alpha1 verbatim, or
# seed-v1), real TLS clients in a client namespace, echo backends in their own namespaces.
# Usage: seed_test.sh v1alpha1|v1
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require_root
export XGATE_BUILD=${XGATE_BUILD:?}
source "$here/../../tools/lib/seedbed.sh"

version=${1:?v1alpha1 or v1}
seedbed_up "$version" || { fail "test bed up"; e2e_summary; exit 1; }

expect_eq "foo /login -> foo-auth" "$(seed_pod https://foo.example.com/login)" foo-auth-0
expect_eq "foo /login/x -> foo-auth" "$(seed_pod https://foo.example.com/login/x)" foo-auth-0
expect_eq "foo /home -> foo-home" "$(seed_pod https://foo.example.com/home)" foo-home-0
expect_eq "foo /anything-else -> foo-404" "$(seed_pod https://foo.example.com/anything-else)" foo-404-0
expect_eq "foo /loginx -> foo-404 (prefix on segment boundaries)" \
  "$(seed_pod https://foo.example.com/loginx)" foo-404-0

declare -A count=()
for _ in $(seq 200); do
  pod=$(seed_pod https://bar.example.com/)
  count[$pod]=$((${count[$pod]:-0} + 1))
done
v1=$((${count[bar-v1-0]:-0} + ${count[bar-v1-1]:-0}))
v2=${count[bar-v2-0]:-0}
echo "bar split over 200: bar-v1-0=${count[bar-v1-0]:-0} bar-v1-1=${count[bar-v1-1]:-0} bar-v2-0=$v2"
check "bar 90/10 within 5 points (bar-v1 $v1/200)" test "$v1" -ge 170 -a "$v1" -le 190 -a $((v1 + v2)) -eq 200
check "both bar-v1 endpoints used" test "${count[bar-v1-0]:-0}" -gt 0 -a "${count[bar-v1-1]:-0}" -gt 0

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

seedbed_down
e2e_summary
