#!/usr/bin/env bash
# No private key or Secret body in any output (issue #16, point 3): the seed bed with its good
# TLS Secret, plus a Gateway whose listeners refer to malformed Secrets (a mangled key, a key
# that does not match, data that is not base64) and one applied through the admin API. Every
# log line (agent and proxy), error, status, explain answer, `xgatectl check` and the metrics
# page is searched for each key's PEM body lines and for pieces of each Secret's base64.
source "$(dirname "$0")/bed.sh"

seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }
certs=$SEED_WORK/certs
needles=$SEED_WORK/needles
out=$SEED_WORK/outputs
mkdir -p "$out"
: >"$needles"

# A key file's PEM body lines, and 24-character pieces of its base64 (as a Secret holds it).
add_needles() {
  grep -v -- '-----' "$1" >>"$needles"
  local b64 i
  b64=$(base64 -w0 <"$1")
  for ((i = 0; i + 24 <= ${#b64}; i += 12)); do echo "${b64:i:24}" >>"$needles"; done
}
add_needles "$certs/server.key"

# The malformed ones: a key whose body is mangled (not a key), another CA-less key that does
# not match the certificate, and base64 that is not (the real key's, with a '!' in it).
seed_issue "$certs" other
sed '2s/^..../AAAA/; 3s/[A-M]/x/g' "$certs/server.key" >"$certs/mangled.key"
add_needles "$certs/mangled.key"
add_needles "$certs/other.key"
crt=$(base64 -w0 <"$certs/server.pem")
not_base64="$(base64 -w0 <"$certs/server.key" | cut -c1-40)!$(base64 -w0 <"$certs/server.key" | cut -c41-)"
secret() { # name key-base64
  printf -- '---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n'
  printf 'metadata: {name: %s, namespace: default}\ndata:\n  tls.crt: %s\n  tls.key: %s\n' "$1" "$crt" "$2"
}
listener() { # name port secret
  printf '  - name: %s\n    protocol: HTTPS\n    port: %s\n    hostname: %s.example.com\n' "$1" "$2" "$1"
  printf '    tls: {mode: Terminate, certificateRefs: [{name: %s}]}\n' "$3"
  printf '    allowedRoutes: {namespaces: {from: All}}\n'
}
{
  secret mangled-cert "$(base64 -w0 <"$certs/mangled.key")"
  secret other-cert "$(base64 -w0 <"$certs/other.key")"
  printf -- '---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n'
  printf 'metadata: {name: leak-web, namespace: default}\nspec:\n  gatewayClassName: acme-lb\n'
  printf '  listeners:\n'
  listener good 8443 admin-controlled-cert
  listener mangled 8444 mangled-cert
  listener other 8445 other-cert
  listener notb64 8446 notb64-cert
} >"$SEED_WORK/manifests/leak.yaml"
secret notb64-cert "$not_base64" >"$SEED_WORK/manifests/notb64.yaml"
secret applied-cert "$not_base64" >"$SEED_WORK/applied.yaml"

ctl() { "$XGATE_BUILD/xgatectl" --socket "$SEED_WORK/admin.sock" "$@"; }
# The output read whole: `| grep -q` would stop reading at the first match, and xgatectl's
# SIGPIPE then fails the pipeline under pipefail.
leak_seen() { [[ $(ctl get gateways -o json) == *leak-web* ]]; }
check "the Gateway with malformed Secrets is loaded" seed_wait 60 leak_seen
listener_curl() { # name port: the HTTP code (000 when no TLS handshake)
  ip netns exec "$SEED_CLIENT" curl -s --max-time 5 --cacert "$certs/ca.pem" -o /dev/null \
    -w '%{http_code}' --resolve "$1.example.com:$2:$SEED_NODE_IP" "https://$1.example.com:$2/"
}
good_listener() { [ "$(listener_curl good 8443)" = 404 ]; }
if seed_wait 60 good_listener; then ok "the good listener of that Gateway serves (404: no route)"
else
  fail "the good listener of that Gateway serves (404: no route): got $(listener_curl good 8443)"
  ctl get gateways >&2
  grep -v '^{' "$SEED_WORK/agent.log" | tail -n 20 >&2
fi
check "the seed route still serves" seed_curl_ok https://foo.example.com/login
ctl apply -f "$SEED_WORK/applied.yaml" >"$out/apply.out" 2>&1
check "apply of a Secret that is not base64 is refused" test "$?" -ne 0
grep -q 'base64' "$out/apply.out" && ok "the refusal says why: $(head -c 160 "$out/apply.out")" ||
  fail "the refusal says why: $(cat "$out/apply.out")"
# The TLS handshake on the mangled listener (no certificate to serve).
expect_eq "no handshake on the mangled Secret's listener" "$(listener_curl mangled 8444)" 000

for what in gateways routes backends status counters; do
  for format in "" json yaml; do
    ctl get "$what" ${format:+-o "$format"} >"$out/get-$what-$format.out" 2>&1
  done
done
for entry in foo:443 good:8443 mangled:8444 other:8445 notb64:8446; do
  host=${entry%:*}
  ctl explain request --listener "$SEED_NODE_IP:${entry#*:}" --sni "$host.example.com" \
    --host "$host.example.com" --path / >"$out/explain-$host.out" 2>&1
done
"$XGATE_BUILD/xgatectl" check -f "$SEED_WORK/manifests" >"$out/check.out" 2>&1
for format in json yaml; do
  "$XGATE_BUILD/xgatectl" check -f "$SEED_WORK/manifests" -o $format >"$out/check-$format.out" 2>&1
done
seed_metrics >"$out/metrics.out" 2>&1
cp "$SEED_WORK/agent.log" "$out/agent.log"  # the agent's and its proxy's logs and access log

grep -q 'tls.key' "$out/get-gateways-yaml.out" &&
  ok "the malformed Secrets' listeners say why ($(grep -c 'tls.key' "$out/get-gateways-yaml.out") conditions)" ||
  fail "the malformed Secrets' listeners say why"
check "status and check show a Secret's keys, not their values" \
  grep -q '"tls.key": "(redacted, ' "$out/get-status-json.out" "$out/check-json.out"
check "the agent logged the refused document" grep -q 'notb64' "$out/agent.log"
needle_count=$(sort -u "$needles" | wc -l)
checked=$(cat "$out"/* | wc -l)
if grep -rF -f "$needles" "$out" >"$SEED_WORK/leaks"; then
  fail "key material found in the outputs:"
  cut -c1-200 "$SEED_WORK/leaks" | head -n 20
else
  ok "no key material in $checked lines of logs, errors, status, explain, check and metrics ($needle_count needles)"
fi
e2e_summary
