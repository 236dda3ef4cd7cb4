# The seed bed (tools/lib/seedbed.sh) in Kubernetes mode: xgate-test-apiserver (deploy/
# preloaded: the CRDs and the agent's RBAC, enforced) in the node namespace, the seed's objects
# created with kubectl, the agent on a kubeconfig with the service account's token as a file.
# Source it after seedbed.sh; then seedbed_up starts this agent, and kube_down ends it all.
#
# KUBE_API_HOST: the address the API server listens on in the node namespace (127.0.0.1; the
# node's address makes it reachable from the client namespace too).

KUBE_API_HOST=${KUBE_API_HOST:-127.0.0.1}
# KUBE_PRELOAD=(FILE|DIR ...): more objects the API server starts with, beside deploy/.
API_DIR= API_PID= API_PORT=

kube() { ip netns exec "$SEED_NODE" kubectl --kubeconfig "$API_DIR/admin.kubeconfig" "$@"; }

api_up() {  # [port]
  local listen=$KUBE_API_HOST:${1:-0} preload=() p
  for p in ${KUBE_PRELOAD[@]+"${KUBE_PRELOAD[@]}"}; do preload+=(--preload "$p"); done
  rm -f "$API_DIR/server.url"
  ip netns exec "$SEED_NODE" "$XGATE_BUILD/xgate-test-apiserver" --dir "$API_DIR" \
    --listen "$listen" --state "$API_DIR/state.json" --preload "$XGATE_ROOT/deploy" "${preload[@]}" \
    --bookmark-interval-ms 600000 >>"$API_DIR/apiserver.log" 2>&1 &
  API_PID=$!
  seed_wait "${KUBE_API_WAIT:-$(seed_start_wait)}" test -s "$API_DIR/server.url" || return 1
  API_PORT=$(sed 's/.*://' "$API_DIR/server.url")
}

api_down() {
  [ -n "$API_PID" ] || return 0
  kill -TERM "$API_PID" 2>/dev/null
  wait "$API_PID" 2>/dev/null
  API_PID=
}

# Writes the agent's $1/agent.kubeconfig: the CA as a file, the service account's token as
# the file $1/token (as in a pod, where the kubelet rotates it).
kube_agent_config() {
  cp "$API_DIR/agent.token" "$1/token"
  cat >"$1/agent.kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: agent
clusters: [{name: test, cluster: {server: "$(cat "$API_DIR/server.url")", certificate-authority: $API_DIR/ca.crt}}]
users: [{name: agent, user: {tokenFile: token}}]
contexts: [{name: agent, context: {cluster: test, user: agent}}]
YAML
}

# Creates the seed's namespaces and objects (and the files named, if any) through the API server.
kube_apply_seed() {
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n' foo bar |
    kube apply -f - >/dev/null || return 1
  local extra=() f
  for f in "$@"; do extra+=(-f "$f"); done
  kube apply -f "$SEED_WORK/manifests/" "${extra[@]}" >"$SEED_WORK/kubectl.log" 2>&1 ||
    { cat "$SEED_WORK/kubectl.log" >&2; return 1; }
}

# Replaces the standalone agent of seedbed_up: the API server first, the objects through it,
# then the agent on the API server (SEED_AGENT_ARGS, an array, adds flags as in seedbed.sh).
seed_agent() {
  API_DIR=$SEED_WORK/api
  mkdir -p "$API_DIR"
  api_up || { seed_log "the API server did not start"; cat "$API_DIR/apiserver.log" >&2; return 1; }
  kube_apply_seed || return 1
  kube_agent_config "$SEED_WORK"
  ip netns exec "$SEED_NODE" "$XGATE_BUILD/xgate-agent" --kubeconfig "$SEED_WORK/agent.kubeconfig" \
    --node-name "node-$SEED_ID" --namespace xgate-system \
    --attach "n$SEED_ID" --pin-root "/sys/fs/bpf/xgate-seed$SEED_ID" \
    --admin-socket "$SEED_WORK/admin.sock" --metrics-addr "$SEED_METRICS_ADDR" --detach-on-exit \
    ${SEED_AGENT_ARGS[@]+"${SEED_AGENT_ARGS[@]}"} >"$SEED_WORK/agent.log" 2>&1 &
  SEED_AGENT_PID=$!
  seed_wait "$(seed_start_wait)" seed_curl_ok https://foo.example.com/login ||
    { seed_log "the gateway did not start serving; agent log:"; tail -n 30 "$SEED_WORK/agent.log" >&2; return 1; }
}

kube_down() {
  seed_agent_stop  # before the API server: it releases its Lease there
  api_down
  seedbed_down
}

# A BackendTLSPolicy on Service foo/$1 (CA from ConfigMap foo/$2, verified name $3) and the
# HTTPRoute foo/tls-route that sends tls.example.com on prod-web to its port 443: the YAML, for
# `kube apply -f -`.
tls_policy_yaml() { # service configmap hostname
  cat <<TLSYAML
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: $1, namespace: foo}
spec:
  targetRefs: [{group: "", kind: Service, name: $1}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: $2}]
    hostname: $3
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: tls-route, namespace: foo}
spec:
  parentRefs: [{name: prod-web, namespace: default}]
  hostnames: [tls.example.com]
  rules: [{backendRefs: [{name: $1, port: 443}]}]
TLSYAML
}
