#!/usr/bin/env bash
# xgate shares the node with other servers: the seed scenario (v1) is served while nginx
# listens on ports 80 and 443 of other addresses of the node namespace, one nginx started
# before the agent and one after; a Gateway whose port another program holds on its own
# address reports PortUnavailable (listener status, xgatectl get gateways, /metrics) and serves
# once the port is free; a Gateway on an address the node does not have (steered) takes no
# port at all, so another program may listen on its port on every address.
source "$(dirname "$0")/bed.sh"
command -v nginx >/dev/null || { echo "nginx is not installed" >&2; exit 1; }

# Other addresses of the node, on an interface the agent is not attached to (the namespace's
# loopback: this kernel may have no dummy interfaces).
NGINX_BEFORE=198.18.9.5 NGINX_AFTER=198.18.9.6 TAKEN=198.18.9.7 VIP=198.18.100.30
NGINX_PIDS=()

# Starts nginx in the node namespace on $2:80 and $2:443 (plain HTTP on both), answering
# "$1"; its own config, pid file and temp folders under $SEED_WORK/$1. Echoes the PID.
start_nginx() {
  local name=$1 dir=$SEED_WORK/$1 listens="" port
  shift
  mkdir -p "$dir"
  for port in "$@"; do listens+="    listen $port;"$'\n'; done
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
$listens    return 200 "$name\n";
  }
}
CONF
  ip netns exec "$SEED_NODE" nginx -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/out.log" 2>&1 &
  echo $!
}
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  local deadline=$((SECONDS + 10))
  while kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
}
coexist_down() {
  local pid
  for pid in "${NGINX_PIDS[@]}"; do stop_pid "$pid"; done
  seedbed_down
}
# From the client namespace: the body of http://$1:$2/ (Host $3).
client_get() {
  ip netns exec "$SEED_CLIENT" curl -sS --max-time 3 -H "Host: ${3:-x}" "http://$1:$2/"
}
answers() { [ "$(client_get "$1" "$2" "${4:-x}")" = "$3" ]; }

before_agent() {
  local a
  for a in $NGINX_BEFORE $NGINX_AFTER $TAKEN; do ip -n "$SEED_NODE" addr add "$a/32" dev lo; done
  NGINX_PIDS+=("$(start_nginx nginx-before "$NGINX_BEFORE:80" "$NGINX_BEFORE:443")")
  seed_wait 10 answers "$NGINX_BEFORE" 80 nginx-before
}
SEED_BEFORE_AGENT=before_agent
seedbed_up v1 || { fail "test bed up"; coexist_down; e2e_summary; exit 1; }
trap coexist_down EXIT

xgatectl() { "$XGATE_BUILD/xgatectl" --socket "$SEED_WORK/admin.sock" "$@"; }

# 1. The seed served beside nginx started before the agent; nginx keeps its ports.
expect_eq "seed: foo /login served with nginx on $NGINX_BEFORE:80,443" \
  "$(seed_pod https://foo.example.com/login)" foo-auth-0
expect_eq "nginx (started before) still answers on :80" "$(client_get $NGINX_BEFORE 80)" nginx-before
expect_eq "nginx (started before) still answers on :443" "$(client_get $NGINX_BEFORE 443)" nginx-before
proxy_listens=$(ip netns exec "$SEED_NODE" ss -Hltnp | awk '/xgate-proxy/ {print $4}' | sort -u)
expect_eq "xgate-proxy listens on the Gateway address and port only" "$proxy_listens" "198.18.0.1:443"

# 2. nginx started after the agent gets ports 80 and 443 of its own address.
NGINX_PIDS+=("$(start_nginx nginx-after "$NGINX_AFTER:80" "$NGINX_AFTER:443")")
check "nginx (started after) answers on :80" seed_wait 10 answers $NGINX_AFTER 80 nginx-after
expect_eq "nginx (started after) answers on :443" "$(client_get $NGINX_AFTER 443)" nginx-after
expect_eq "seed: foo /home still served" "$(seed_pod https://foo.example.com/home)" foo-home-0

# 3. A Gateway on an address of the node whose port 80 another program holds.
TAKEN_PID=$(start_nginx nginx-taken "$TAKEN:80")
NGINX_PIDS+=("$TAKEN_PID")
seed_wait 10 answers $TAKEN 80 nginx-taken || fail "nginx on $TAKEN:80 did not start"
gateway_on() {  # Gateway $1 on address $2: one HTTP listener on port 80, routes from all
  cat <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: $1, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{type: IPAddress, value: $2}]
  listeners:
  - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
---
YAML
}
{
  gateway_on spare $TAKEN
  gateway_on vip $VIP
  cat <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: spare-route, namespace: foo}
spec:
  parentRefs: [{name: spare, namespace: default}, {name: vip, namespace: default}]
  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]
YAML
} >"$SEED_WORK/manifests/spare.yaml.tmp"
mv "$SEED_WORK/manifests/spare.yaml.tmp" "$SEED_WORK/manifests/spare.yaml"
listener_accepted() {  # Gateway $1, listener http: the Accepted condition as status/reason
  xgatectl get gateways -o json | jq -r --arg g "$1" '.items[] | select(.metadata.name == $g)
    | .status.listeners[] | select(.name == "http") | .conditions[]
    | select(.type == "Accepted") | "\(.status)/\(.reason)"'
}
is_accepted() { [ "$(listener_accepted "$1")" = "$2" ]; }
check "spare: listener Accepted False, PortUnavailable" seed_wait 20 is_accepted spare False/PortUnavailable
message=$(xgatectl get gateways -o json | jq -r '.items[] | select(.metadata.name == "spare")
  | .status.listeners[0].conditions[] | select(.type == "Accepted") | .message')
echo "spare: $message"
check "the reason names the address, port and error" \
  grep -qF "cannot listen on $TAKEN:80: bind $TAKEN:80: Address already in use" <<<"$message"
expect_eq "spare: Gateway Programmed" "$(xgatectl get gateways -o json | jq -r '.items[]
  | select(.metadata.name == "spare") | .status.conditions[] | select(.type == "Programmed")
  | "\(.status)/\(.reason)"')" False/Pending
table=$(xgatectl get gateways)
echo "$table"
check "get gateways shows it" grep -qE "^default +spare .*http: PortUnavailable" <<<"$table"
metrics=$(ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$SEED_METRICS_ADDR/metrics")
check "/metrics: xgate_listen_up 0 for $TAKEN:80" \
  grep -qF "xgate_listen_up{address=\"$TAKEN\",port=\"80\",mode=\"bound\"} 0" <<<"$metrics"
failures=$(awk '$1 == "xgate_listen_failures_total" {print $2}' <<<"$metrics")
check "/metrics: xgate_listen_failures_total counts the attempts ($failures)" test "${failures:-0}" -ge 1
expect_eq "nginx still has $TAKEN:80" "$(client_get $TAKEN 80)" nginx-taken

# 4. The steered Gateway (an address the node does not have) serves on port 80 while the
#    proxy holds no port 80 anywhere: its connections come through the private listener.
check "vip: listener Accepted" seed_wait 20 is_accepted vip True/Accepted
check "vip ($VIP, not an address of the node) served by xgate" \
  seed_wait 10 bash -c "ip netns exec $SEED_CLIENT curl -sS --max-time 3 http://$VIP/ |
    grep -q '\"pod\": *\"foo-home'"
proxy_listens=$(ip netns exec "$SEED_NODE" ss -Hltnp | awk '/xgate-proxy/ {print $4}' | sort -u)
echo "xgate-proxy listens on:" $proxy_listens
check "xgate-proxy holds no port 80 (vip steered, spare waiting)" \
  bash -c "! grep -q ':80\$' <<<'$proxy_listens'"
check "xgate-proxy's private listener is on loopback" grep -qE '^127\.0\.0\.1:[0-9]+$' <<<"$proxy_listens"

# 5. The port frees: the proxy takes it on its next retry and the status flips back.
stop_pid "$TAKEN_PID"
check "spare: listener Accepted once the port is free" seed_wait 30 is_accepted spare True/Accepted
served_by_xgate() { client_get $TAKEN 80 | grep -q '"pod": *"foo-home'; }
check "spare ($TAKEN:80) served by xgate" seed_wait 10 served_by_xgate
metrics=$(ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$SEED_METRICS_ADDR/metrics")
check "/metrics: xgate_listen_up 1 for $TAKEN:80" \
  grep -qF "xgate_listen_up{address=\"$TAKEN\",port=\"80\",mode=\"bound\"} 1" <<<"$metrics"
check "/metrics: the steered VIP is up" \
  grep -qF "xgate_listen_up{address=\"$VIP\",port=\"80\",mode=\"steered\"} 1" <<<"$metrics"

coexist_down
e2e_summary
