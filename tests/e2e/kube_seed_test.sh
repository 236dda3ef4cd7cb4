#!/usr/bin/env bash
# The seed scenario in Kubernetes mode: xgate-test-apiserver (deploy/ preloaded: CRDs and the
# agent's RBAC, enforced) in the node namespace, the objects created with kubectl, the agent
# on a kubeconfig with the service account's token file. Then: a new route, a weight change
# and a deletion followed; a BackendTLSPolicy's CA ConfigMap changed and put back; the token
# file rotated; the watch history compacted and the API
# server down for several seconds while serving goes on; later changes picked up; a
# ListenerSet served, its status and the Gateway's count written, then deleted.
source "$(dirname "$0")/bed.sh"
source "$here/../../tools/lib/kubebed.sh"
command -v kubectl >/dev/null || { echo "skipped: kubectl not installed" >&2; exit 77; }

agent_metric() { seed_metrics | metric_sum "$1" "$2"; }
readyz() {
  ip netns exec "$SEED_NODE" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://$SEED_METRICS_ADDR/readyz"
}

seedbed_up v1 || { fail "test bed up"; kube_down; e2e_summary; exit 1; }
trap kube_down EXIT
ok "seed served from objects created through the API server"

expect_eq "/readyz once synced and programmed" "$(readyz)" 200
expect_eq "every informer synced" "$(agent_metric xgate_informer_synced 'kind="HTTPRoute"')" 1
expect_eq "foo /login -> foo-auth" "$(seed_pod https://foo.example.com/login)" foo-auth-0
expect_eq "foo /home -> foo-home" "$(seed_pod https://foo.example.com/home)" foo-home-0
expect_eq "bar env: canary -> bar-v2" "$(seed_pod https://bar.example.com/ -H 'env: canary')" bar-v2-0
apply_out=$("$XGATE_BUILD/xgatectl" --socket "$SEED_WORK/admin.sock" apply -f "$SEED_WORK/manifests/foo.yaml" 2>&1)
check "xgatectl apply in Kubernetes mode names kubectl" grep -q "kubectl apply" <<<"$apply_out"

# A new route.
cat >"$SEED_WORK/baz.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: baz-route, namespace: foo}
spec:
  parentRefs: [{name: prod-web, namespace: default}]
  hostnames: [baz.example.com]
  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]
YAML
kube apply -f "$SEED_WORK/baz.yaml" >/dev/null
baz_home() { [ "$(seed_pod https://baz.example.com/)" = foo-home-0 ]; }
check "new route baz.example.com served" seed_wait 20 baz_home

# A weight change: bar-v1 0, bar-v2 100.
sed -e 's/weight: 90/weight: 0/' -e 's/weight: 10/weight: 100/' \
  "$SEED_WORK/manifests/bar.yaml" >"$SEED_WORK/bar-shifted.yaml"
kube apply -f "$SEED_WORK/bar-shifted.yaml" >/dev/null
all_v2() {
  local i
  for i in $(seq 10); do [ "$(seed_pod https://bar.example.com/)" = bar-v2-0 ] || return 1; done
}
check "weight change followed: bar all to bar-v2" seed_wait 20 all_v2

# A deletion.
kube delete httproute -n foo baz-route >/dev/null
baz_gone() { [ "$(seed_curl https://baz.example.com/ -o /dev/null -w '%{http_code}')" = 404 ]; }
check "deleted route no longer served (404)" seed_wait 20 baz_gone

# BackendTLSPolicy with its CA in a ConfigMap (the agent watches ConfigMaps): TLS to a backend
# whose certificate the run's CA signed is served; the ConfigMap's CA replaced by another
# (the backend no longer verifies: 502), then put back (served again), each change reaching
# the proxy through the API server.
expect_eq "ConfigMap informer synced" "$(agent_metric xgate_informer_synced 'kind="ConfigMap"')" 1
tls_ip=198.18.1.11 # foo-auth's pod namespace, another port
ip netns exec "xgb$SEED_ID-1" "$XGATE_BUILD/xgate-echo" --listen "$tls_ip:8443" \
  --tls-cert "$SEED_WORK/certs/server.pem" --tls-key "$SEED_WORK/certs/server.key" \
  --namespace foo --pod foo-tls-0 >"$SEED_WORK/echo-tls.log" 2>&1 &
SEED_PIDS+=($!)
seed_wait 10 ip netns exec "$SEED_NODE" bash -c "exec 3<>/dev/tcp/$tls_ip/8443" ||
  fail "TLS echo did not start"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=another CA" -keyout "$SEED_WORK/certs/other-ca.key" \
  -out "$SEED_WORK/certs/other-ca.pem" 2>/dev/null
ca_configmap() { # PEM file
  kube create configmap -n foo backend-ca --from-file="ca.crt=$1" --dry-run=client -o json |
    kube apply -f - >/dev/null
}
ca_configmap "$SEED_WORK/certs/ca.pem"
kube apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: foo-tls, namespace: foo}
spec: {ports: [{name: https, port: 443, targetPort: 8443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: foo-tls-1, namespace: foo, labels: {kubernetes.io/service-name: foo-tls}}
addressType: IPv4
ports: [{name: https, port: 8443}]
endpoints: [{addresses: [$tls_ip]}]
---
$(tls_policy_yaml foo-tls backend-ca backend.example.com)
YAML
tls_pod() { [ "$(seed_pod https://tls.example.com/)" = foo-tls-0 ]; }
tls_code() { seed_curl https://tls.example.com/ -o /dev/null -w '%{http_code}'; }
tls_502() { [ "$(tls_code)" = 502 ]; }
check "TLS backend verified with the ConfigMap's CA is served" seed_wait 20 tls_pod
ca_configmap "$SEED_WORK/certs/other-ca.pem"
check "ConfigMap CA replaced by one that did not sign the backend: 502" seed_wait 20 tls_502
ca_configmap "$SEED_WORK/certs/ca.pem"
check "ConfigMap CA put back: served again" seed_wait 20 tls_pod
policy_accepted() {
  kube get backendtlspolicy -n foo foo-tls -o jsonpath='{.status.ancestors[0].conditions[?(@.type=="Accepted")].status}' |
    grep -qx True
}
check "BackendTLSPolicy Accepted (its ConfigMap resolved in API server mode)" seed_wait 20 policy_accepted
kube delete httproute -n foo tls-route >/dev/null

# The token file rotated: a new token for the same service account, the old one revoked.
new_token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
old_token=$(cat "$SEED_WORK/token")
sed -n "s/^$old_token,/$new_token,/p" "$API_DIR/tokens.csv" >>"$API_DIR/tokens.csv"
printf '%s' "$new_token" >"$SEED_WORK/token.new" && mv "$SEED_WORK/token.new" "$SEED_WORK/token"
sed -i "/^$old_token,/d" "$API_DIR/tokens.csv"

# The watch history compacted behind the agent's informers (a Service changes, which the
# HTTPRoute informer does not see), then the API server down for several seconds: serving
# goes on; when it is back the informers resume (with the rotated token) or relist (410).
relists_before=$(agent_metric xgate_informer_relists_total "")
kube annotate service -n bar bar-v1 xgate.dev/touched=1 --overwrite >/dev/null
ip netns exec "$SEED_NODE" curl -fsS --cacert "$API_DIR/ca.crt" -X POST \
  -H "Authorization: Bearer $(cat "$API_DIR/admin.token")" -H 'Content-Type: application/json' \
  -d '{}' "$(cat "$API_DIR/server.url")/xgate-test/compact" -o /dev/null || fail "compact"
generation=$(agent_metric xgate_agent_snapshot_generation "")
api_down
served=0 failed=0
deadline=$((SECONDS + 6))
while ((SECONDS < deadline)); do
  if [ "$(seed_pod https://foo.example.com/login)" = foo-auth-0 ]; then
    served=$((served + 1))
  else
    failed=$((failed + 1))
  fi
done
check "served while the API server is down ($served ok, $failed failed)" \
  test "$failed" = 0 -a "$served" -gt 5
expect_eq "agent still running" "$(kill -0 "$SEED_AGENT_PID" 2>/dev/null && echo yes)" yes
expect_eq "snapshot unchanged while the API server is down" \
  "$(agent_metric xgate_agent_snapshot_generation "")" "$generation"
api_up "$API_PORT" || fail "API server back on port $API_PORT"
kube apply -f "$SEED_WORK/manifests/bar.yaml" >/dev/null  # weights back to 90/10
some_v1() {
  local i
  for i in $(seq 30); do case $(seed_pod https://bar.example.com/) in bar-v1-*) return 0 ;; esac; done
  return 1
}
check "change after the API server came back picked up (bar-v1 served again)" seed_wait 30 some_v1
relisted() { [ "$(agent_metric xgate_informer_relists_total "")" -gt "$relists_before" ]; }
check "410 after compaction: informers relisted" seed_wait 20 relisted
check "watch restarts counted" test "$(agent_metric xgate_informer_watch_restarts_total "")" -gt 0
check "the rotated token file was read" grep -q "token file changed" "$SEED_WORK/agent.log"
check "no request refused after the rotation (no 401 in the agent log)" \
  bash -c "! grep -q 'HTTP 401' '$SEED_WORK/agent.log'"

# The HTTPRoute CRD deleted at run time: the API server deletes the routes with it, the agent
# stops reading the kind and the rest goes on; installed again, it is read again (discovery).
kube delete crd httproutes.gateway.networking.k8s.io >/dev/null
login_code() { seed_curl https://foo.example.com/login -o /dev/null -w '%{http_code}'; }
no_route() { [ "$(login_code)" = 404 ]; }
check "HTTPRoute CRD deleted: its routes are no longer served (404)" seed_wait 20 no_route
/usr/bin/python3 - "$XGATE_ROOT/deploy/01-gateway-api-v1.6.1-standard.yaml" >"$SEED_WORK/crd.yaml" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"].startswith("httproutes."):
        print(yaml.safe_dump(d))
PY
kube create -f "$SEED_WORK/crd.yaml" >/dev/null
readd_routes() { kube apply -f "$SEED_WORK/manifests/" >/dev/null 2>&1; }
check "the CRD installed again, the routes created again" seed_wait 20 readd_routes
check "routes served again once the CRD is back (discovery)" seed_wait 30 seed_curl_ok https://foo.example.com/login
expect_eq "HTTPRoute informer synced again" "$(agent_metric xgate_informer_synced 'kind="HTTPRoute"')" 1

# A ListenerSet (v1), last, so its status writes stay clear of the token rotation above:
# prod-web allows those of its namespace; the set's HTTPS entry for ls.example.com takes a
# route whose parent is the ListenerSet. The agent (the Lease holder) writes the set's status
# and the Gateway's count through /status, as deploy/02-rbac.yaml allows; the set deleted,
# its host is no longer served and the count goes back to 0.
kube patch gateway -n default prod-web --type merge \
  -p '{"spec":{"allowedListeners":{"namespaces":{"from":"Same"}}}}' >/dev/null
cat >"$SEED_WORK/listenerset.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra, namespace: default}
spec:
  parentRef: {name: prod-web}
  listeners:
  - name: ls-https
    port: 443
    protocol: HTTPS
    hostname: ls.example.com
    tls: {mode: Terminate, certificateRefs: [{name: admin-controlled-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ls-route, namespace: default}
spec:
  parentRefs: [{kind: ListenerSet, group: gateway.networking.k8s.io, name: extra}]
  rules: [{backendRefs: [{name: foo-home, namespace: foo, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: ls-route-to-foo, namespace: foo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
YAML
kube apply -f "$SEED_WORK/listenerset.yaml" >/dev/null
ls_home() { [ "$(seed_pod https://ls.example.com/)" = foo-home-0 ]; }
check "ListenerSet entry ls.example.com served through its route" seed_wait 20 ls_home
ls_status() {
  kube get listenerset -n default extra \
    -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}/{.status.listeners[0].attachedRoutes}' |
    grep -qx 'True/1'
}
check "ListenerSet status written (Programmed True, its entry 1 route)" seed_wait 20 ls_status
ls_count() {
  [ "$(kube get gateway -n default prod-web -o jsonpath='{.status.attachedListenerSets}')" = "$1" ]
}
check "prod-web counts 1 ListenerSet" seed_wait 20 ls_count 1
kube delete listenerset -n default extra >/dev/null
ls_gone() { [ "$(seed_curl https://ls.example.com/ -o /dev/null -w '%{http_code}')" = 404 ]; }
check "ListenerSet deleted: ls.example.com 404" seed_wait 20 ls_gone
check "prod-web counts 0 ListenerSets" seed_wait 20 ls_count 0

kube_down
e2e_summary
