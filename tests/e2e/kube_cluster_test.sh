#!/usr/bin/env bash
# Kubernetes mode on a cluster of three nodes: three node namespaces, each with its own agent
# reading one API server (xgate-test-apiserver, deploy/ preloaded and its RBAC enforced),
# behind a router namespace with an ECMP route to the Gateway address (as a router fed by BGP
# from every node would have). The backend pods hang off the router (the pod network).
#
#   client 198.18.100.2 -- 198.18.100.1 router (API server, pods on br1/br2)
#                                       198.18.10k.1 -- 198.18.10k.2 node k (agent k), k=1..3
#   router: 198.19.0.10/32 nexthop via each node, L4 hash
#
# Checked: every node serves; exactly one agent holds the Lease and only it writes status
# (Gateway, listeners, routes, with observedGeneration), another controller's parent entry
# and GatewayClass are left alone; SIGKILL of the holder: another takes over after the lease
# duration and writes; SIGTERM of the next holder: released and taken over within seconds.
source "$(dirname "$0")/bed.sh"
source "$here/../../tools/lib/kubebed.sh"
command -v kubectl >/dev/null || { echo "skipped: kubectl not installed" >&2; exit 77; }

VIP=198.19.0.10
NODES=(1 2 3)
SEED_NODE=xgr$SEED_ID # the router: seed_backends reaches the pods from here
KUBE_API_HOST=198.18.100.1 # the router's: every node reaches it through its uplink
declare -A AGENT_PID=() PROXY_PID=()

node_ns() { echo "xgn$SEED_ID-$1"; }
jpath() { kube get "$@" 2>/dev/null; }
metric() { # node name [label-substring]
  ip netns exec "$(node_ns "$1")" curl -sS --max-time 5 "http://$SEED_METRICS_ADDR/metrics" |
    metric_sum "$2" "${3:-}"
}
client_curl() { # path [curl args]
  local path=$1
  shift
  ip netns exec "$SEED_CLIENT" curl -sS --max-time 5 --cacert "$SEED_WORK/certs/ca.pem" \
    --resolve "foo.example.com:443:$VIP" "$@" "https://foo.example.com$path"
}

cluster_netns() {
  ip netns add "$SEED_CLIENT"
  ip netns add "$SEED_NODE"
  ip -n "$SEED_CLIENT" link set lo up
  ip -n "$SEED_NODE" link set lo up
  ip netns exec "$SEED_NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.fib_multipath_hash_policy=1
  ip link add "c$SEED_ID" netns "$SEED_CLIENT" type veth peer name "r$SEED_ID" netns "$SEED_NODE"
  ip -n "$SEED_CLIENT" addr add 198.18.100.2/24 dev "c$SEED_ID"
  ip -n "$SEED_NODE" addr add 198.18.100.1/24 dev "r$SEED_ID"
  ip -n "$SEED_CLIENT" link set "c$SEED_ID" up
  ip -n "$SEED_NODE" link set "r$SEED_ID" up
  ip -n "$SEED_CLIENT" route add default via 198.18.100.1
  local k ns hops=()
  for k in "${NODES[@]}"; do
    ns=$(node_ns "$k")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "u$SEED_ID-$k" netns "$ns" type veth peer name "r$SEED_ID-$k" netns "$SEED_NODE"
    ip -n "$ns" addr add "198.18.10$k.2/24" dev "u$SEED_ID-$k"
    ip -n "$SEED_NODE" addr add "198.18.10$k.1/24" dev "r$SEED_ID-$k"
    ip -n "$ns" link set "u$SEED_ID-$k" up
    ip -n "$SEED_NODE" link set "r$SEED_ID-$k" up
    ip -n "$ns" route add default via "198.18.10$k.1"
    hops+=(nexthop via "198.18.10$k.2")
  done
  ip -n "$SEED_NODE" route add "$VIP/32" "${hops[@]}"
  seed_pods "$SEED_NODE"
}

# The seed objects, the Gateway given the anycast address, plus another controller's class.
cluster_objects() {
  /usr/bin/python3 - "$SEED_WORK/manifests/gateway.yaml" "$VIP" <<'PY' || return 1
import sys, yaml
path, vip = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
for d in docs:
    if d["kind"] == "Gateway":
        d["spec"]["addresses"] = [{"type": "IPAddress", "value": vip}]
open(path, "w").write(yaml.safe_dump_all(docs))
PY
  cat >"$SEED_WORK/other.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other-lb}
spec: {controllerName: other.example/controller}
YAML
  kube_apply_seed "$SEED_WORK/other.yaml" || return 1
  # Another controller's entry in foo-route's status, written before any agent runs.
  kube patch httproute -n foo foo-route --subresource=status --type=merge -p '{"status":{"parents":[
    {"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"edge","namespace":"default"},
     "controllerName":"other.example/controller",
     "conditions":[{"type":"Accepted","status":"True","reason":"Accepted","message":"theirs",
                    "lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}]}}' \
    >/dev/null
}

agent_up() { # node
  local k=$1 ns
  ns=$(node_ns "$k")
  mkdir -p "$SEED_WORK/node$k"
  kube_agent_config "$SEED_WORK/node$k"
  ip netns exec "$ns" "$XGATE_BUILD/xgate-agent" --kubeconfig "$SEED_WORK/node$k/agent.kubeconfig" \
    --node-name "node-$k" --namespace xgate-system --attach "u$SEED_ID-$k" \
    --pin-root "/sys/fs/bpf/xgate-kc$SEED_ID-$k" --admin-socket "$SEED_WORK/node$k/admin.sock" \
    --metrics-addr "$SEED_METRICS_ADDR" --detach-on-exit >"$SEED_WORK/node$k/agent.log" 2>&1 &
  AGENT_PID[$k]=$!
}

# The proxy an agent started (kept alive by design when its agent dies), to stop it at the end.
note_proxy() { PROXY_PID[$1]=$(pgrep -P "${AGENT_PID[$1]}" -x xgate-proxy | head -n1); }
node_ready() {
  [ "$(ip netns exec "$(node_ns "$1")" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    "http://$SEED_METRICS_ADDR/readyz")" = 200 ] && note_proxy "$1" && [ -n "${PROXY_PID[$1]}" ]
}

cluster_down() {
  set +e
  local k
  for k in "${!AGENT_PID[@]}"; do kill -TERM "${AGENT_PID[$k]}" 2>/dev/null; done
  for k in "${!AGENT_PID[@]}"; do
    local deadline=$((SECONDS + 10))
    while kill -0 "${AGENT_PID[$k]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "${AGENT_PID[$k]}" 2>/dev/null
  done
  for k in "${!PROXY_PID[@]}"; do [ -n "${PROXY_PID[$k]}" ] && kill "${PROXY_PID[$k]}" 2>/dev/null; done
  wait "${AGENT_PID[@]}" 2>/dev/null
  api_down
  for k in "${NODES[@]}"; do
    ip netns del "$(node_ns "$k")" 2>/dev/null
    rm -rf "/sys/fs/bpf/xgate-kc$SEED_ID-$k"
  done
  seedbed_down
}

SEED_WORK=$(mktemp -d /tmp/xgate-cluster.XXXXXX)
trap cluster_down EXIT
trap 'exit 130' INT TERM
mkdir -p "$SEED_WORK/certs"
seed_certs "$SEED_WORK/certs" server
seed_manifests v1
cluster_netns || { fail "namespaces"; exit 1; }
seed_backends || { fail "backends"; exit 1; }
API_DIR=$SEED_WORK/api
mkdir -p "$API_DIR"
api_up || { fail "API server up"; cat "$API_DIR/apiserver.log" >&2; exit 1; }
cluster_objects || { fail "objects created through the API server"; exit 1; }
other_class_status=$(jpath gatewayclass other-lb -o jsonpath='{.status}')
for k in "${NODES[@]}"; do agent_up "$k"; done
for k in "${NODES[@]}"; do
  if seed_wait 40 node_ready "$k"; then
    ok "node-$k ready (synced and programmed)"
  else
    fail "node-$k ready (synced and programmed)"
    tail -n 20 "$SEED_WORK/node$k/agent.log" >&2
  fi
done

# Every node serves: new connections (new source ports) spread over the three next hops.
served_by() { metric "$1" xgate_proxy_requests_total 'code="200"'; }
all_served() {
  local k
  for k in "${NODES[@]}"; do [ "$(served_by "$k")" -gt 0 ] || return 1; done
}
ok_count=0
for i in $(seq 60); do
  [ "$(client_curl /login -o /dev/null -w '%{http_code}')" = 200 ] && ok_count=$((ok_count + 1))
  ((i % 10 == 0)) && all_served && break
done
check "every request through the router answered 200 ($ok_count of $i)" test "$ok_count" = "$i"
check "every node served ($(for k in "${NODES[@]}"; do printf 'node-%s: %s ' "$k" "$(served_by "$k")"; done))" all_served

# One holder of the Lease, the only one that writes status.
holder_name() { jpath lease -n xgate-system xgate-status-writer -o jsonpath='{.spec.holderIdentity}'; }
holders() {
  local k
  for k in "$@"; do [ "$(metric "$k" xgate_agent_lease_holder)" = 1 ] && printf 'node-%s\n' "$k"; done
}
one_holder() { [ "$(holders "${NODES[@]}" | wc -l)" = 1 ] && [ "$(holders "${NODES[@]}")" = "$(holder_name)" ]; }
check "exactly one agent holds the Lease, the one the Lease names" seed_wait 20 one_holder
holder=$(holder_name)
holder=${holder#node-}
gw_programmed() {
  [ "$(jpath gateway -n default prod-web -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}')" = True ]
}
check "Gateway prod-web Programmed True" seed_wait 20 gw_programmed
gw_gen=$(jpath gateway -n default prod-web -o jsonpath='{.metadata.generation}')
expect_eq "Gateway conditions carry its observedGeneration" \
  "$(jpath gateway -n default prod-web -o jsonpath='{.status.conditions[?(@.type=="Accepted")].observedGeneration}')" "$gw_gen"
expect_eq "Gateway status addresses: the anycast address" \
  "$(jpath gateway -n default prod-web -o jsonpath='{.status.addresses[*].value}')" "$VIP"
expect_eq "listener https: attachedRoutes 2 (foo-route, bar-route)" \
  "$(jpath gateway -n default prod-web -o jsonpath='{.status.listeners[?(@.name=="https")].attachedRoutes}')" 2
expect_eq "listener https: supportedKinds HTTPRoute" \
  "$(jpath gateway -n default prod-web -o jsonpath='{.status.listeners[?(@.name=="https")].supportedKinds[*].kind}')" HTTPRoute
xgate_parent() { # route-namespace route-name field
  jpath httproute -n "$1" "$2" -o jsonpath="{.status.parents[?(@.controllerName==\"xgate.dev/node-agent\")]$3}"
}
route_accepted() { [ "$(xgate_parent foo foo-route '.conditions[?(@.type=="Accepted")].status')" = True ]; }
check "foo-route accepted by xgate" seed_wait 20 route_accepted
expect_eq "foo-route: the other controller's entry kept as it was" \
  "$(jpath httproute -n foo foo-route -o jsonpath='{.status.parents[?(@.controllerName=="other.example/controller")].conditions[0].message}')" theirs
expect_eq "GatewayClass acme-lb Accepted" \
  "$(jpath gatewayclass acme-lb -o jsonpath='{.status.conditions[?(@.type=="Accepted")].status}')" True
expect_eq "GatewayClass other-lb (another controller's) untouched" \
  "$(jpath gatewayclass other-lb -o jsonpath='{.status}')" "$other_class_status"
writes() { metric "$1" xgate_agent_status_writes_total 'result="ok"'; }
check "the holder wrote status ($(writes "$holder") writes)" test "$(writes "$holder")" -gt 0
for k in "${NODES[@]}"; do
  [ "$k" = "$holder" ] && continue
  expect_eq "node-$k (not the holder) wrote nothing" "$(writes "$k")" 0
done

# A spec change moves the route's generation on; the holder's status follows it.
add_hostname() { # hostname
  kube patch httproute -n foo foo-route --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/spec/hostnames/-\",\"value\":\"$1\"}]" >/dev/null
}
route_gen() { jpath httproute -n foo foo-route -o jsonpath='{.metadata.generation}'; }
observed() { [ "$(xgate_parent foo foo-route '.conditions[?(@.type=="Accepted")].observedGeneration')" = "$1" ]; }
gen=$(route_gen)
add_hostname one.example.com
expect_eq "a spec change moves the route's generation on" "$(route_gen)" $((gen + 1))
check "route observedGeneration follows it ($((gen + 1)))" seed_wait 20 observed $((gen + 1))

# A BackendTLSPolicy whose CA bundle is a ConfigMap (watched in API server mode): ResolvedRefs
# True once the agent has read the ConfigMap, False (InvalidCACertificateRef) once its ca.crt
# is removed. The Service has no endpoints: the policy's status is what is checked.
kube apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: tls-web-ca, namespace: foo}
data:
  ca.crt: |
$(sed 's/^/    /' "$SEED_WORK/certs/ca.pem")
---
apiVersion: v1
kind: Service
metadata: {name: tls-web, namespace: foo}
spec:
  ports: [{name: https, port: 443}]
---
$(tls_policy_yaml tls-web tls-web-ca tls-web.foo.svc)
EOF
policy_refs() { # status reason
  local refs='.status.ancestors[?(@.controllerName=="xgate.dev/node-agent")].conditions[?(@.type=="ResolvedRefs")]'
  [ "$(jpath backendtlspolicy -n foo tls-web -o jsonpath="{$refs.status}/{$refs.reason}")" = "$1/$2" ]
}
check "BackendTLSPolicy with a ConfigMap CA: ResolvedRefs True" \
  seed_wait 20 policy_refs True ResolvedRefs
kube patch configmap -n foo tls-web-ca --type=json \
  -p '[{"op":"remove","path":"/data/ca.crt"}]' >/dev/null
check "its ConfigMap without ca.crt: ResolvedRefs False (InvalidCACertificateRef)" \
  seed_wait 20 policy_refs False InvalidCACertificateRef

# SIGKILL of the holder: it stops renewing; another agent takes over after the lease
# duration (15 s) and writes status. The router drops the dead node's next hop, as its
# health check or BGP session would.
kill -KILL "${AGENT_PID[$holder]}"
wait "${AGENT_PID[$holder]}" 2>/dev/null
unset "AGENT_PID[$holder]"
kill "${PROXY_PID[$holder]}" 2>/dev/null
unset "PROXY_PID[$holder]"
rest=()
hops=()
for k in "${NODES[@]}"; do
  [ "$k" = "$holder" ] || { rest+=("$k"); hops+=(nexthop via "198.18.10$k.2"); }
done
ip -n "$SEED_NODE" route replace "$VIP/32" "${hops[@]}"
killed_at=$SECONDS
new_holder() {
  local h
  h=$(holders "${rest[@]}")
  [ "$(wc -l <<<"$h")" = 1 ] && [ -n "$h" ] && [ "$(holder_name)" = "$h" ]
}
check "SIGKILL of node-$holder: another agent took the Lease over" seed_wait 40 new_holder
took=$((SECONDS - killed_at))
check "taken over after the lease duration, not before ($took s)" test "$took" -ge 10
holder=$(holder_name)
holder=${holder#node-}
add_hostname two.example.com
check "the new holder node-$holder writes status (observedGeneration $((gen + 2)))" \
  seed_wait 20 observed $((gen + 2))
ok_count=0
for i in $(seq 20); do
  [ "$(client_curl /login -o /dev/null -w '%{http_code}')" = 200 ] && ok_count=$((ok_count + 1))
done
expect_eq "the remaining nodes serve every request" "$ok_count" 20

# SIGTERM of the new holder: it releases the Lease, the last agent takes over in seconds.
last=
for k in "${rest[@]}"; do [ "$k" = "$holder" ] || last=$k; done
kill -TERM "${AGENT_PID[$holder]}"
term_at=$SECONDS
released() { [ "$(holder_name)" != "node-$holder" ]; }
seed_wait 20 released
check "SIGTERM of node-$holder: taken over by node-$last within 6 s" \
  seed_wait $((6 - (SECONDS - term_at))) bash -c "[ \"\$(ip netns exec $(node_ns "$last") curl -s \
  http://$SEED_METRICS_ADDR/metrics | awk '/^xgate_agent_lease_holder /{print \$2}')\" = 1 ]"
echo "   (released and taken over $((SECONDS - term_at)) s after SIGTERM)"
expect_eq "the Lease names node-$last" "$(holder_name)" "node-$last"
wait "${AGENT_PID[$holder]}" 2>/dev/null
unset "AGENT_PID[$holder]"

e2e_summary
