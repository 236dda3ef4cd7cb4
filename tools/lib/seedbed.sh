# The seed article's scenario as a test bed in network namespaces, shared by tools/demo and
# the end-to-end tests. Source it, then: seedbed_up v1alpha1|v1; ...; seedbed_down.
#
#   client ns  198.18.0.2 --veth-- 198.18.0.1  node ns (xgate-agent, xgate-proxy)
#                                  198.18.1.1  bridge --veth-- foo-auth 198.18.1.11, foo-home .12, foo-404 .13
#                                  198.18.2.1  bridge --veth-- bar-v1 198.18.2.11 and .12, bar-v2 198.18.2.21
#
# The Gateway prod-web has no spec.addresses, so it serves on the address of the interface
# the agent is attached to (198.18.0.1), as a host-network data plane does.

XGATE_ROOT=${XGATE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
XGATE_BUILD=${XGATE_BUILD:-$XGATE_ROOT/build}
XGATE_SHARED=${XGATE_SHARED:-$XGATE_ROOT/../shared}

SEED_ID=${SEED_ID:-$$}
SEED_CLIENT=xgc$SEED_ID
SEED_NODE=xgn$SEED_ID
SEED_NODE_IP=198.18.0.1
# The agent's Prometheus endpoint, on the node namespace's own loopback (so never taken).
SEED_METRICS_ADDR=127.0.0.1:9464
# The bed's size in routes, set by a caller that loads many (the scale benches): the waits for
# the first route served (and for the API server, tools/lib/kubebed.sh) grow with it.
SEED_ROUTES=${SEED_ROUTES:-0}
SEED_WORK=""
SEED_AGENT_PID=""
SEED_PIDS=()
# Namespaces a caller adds to the bed (its own pods): removed, and checked empty, with it.
SEED_NETNS_EXTRA=()
# Every process the bed or its agents started, as "pid:start" (start: its start time in clock
# ticks, so a reused pid is never taken for one of ours); seedbed_down stops them all.
SEED_TRACKED=()
# What seedbed_down found still running in the bed's namespaces after stopping SEED_TRACKED.
SEED_LEFTOVERS=""
SEED_BACKENDS=(
  "foo foo-auth 198.18.1.11"
  "foo foo-home 198.18.1.12"
  "foo foo-404 198.18.1.13"
  "bar bar-v1 198.18.2.11"
  "bar bar-v1 198.18.2.12"
  "bar bar-v2 198.18.2.21"
)

# SEED_V6=1: every link of the bed is dual-stack, IPv6 from the ULA fd00:18::/32: client
# fd00:18::2, node fd00:18::1, pods fd00:18:N::M for 198.18.N.M (seed_v6_of).
SEED_V6=${SEED_V6:-}
SEED_NODE_IP6=fd00:18::1
seed_v6_of() { local n m; IFS=. read -r _ _ n m <<<"$1"; echo "fd00:18:$n::$m"; }

seed_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# Seconds a bed of SEED_ROUTES routes gets to start serving: 30, plus 1 per 50 routes (a cold
# start of 10,000 took 29 s on an idle machine), at most 10 minutes.
seed_start_wait() {
  local s=$((30 + SEED_ROUTES / 50))
  echo $((s < 600 ? s : 600))
}

# Waits up to $1 seconds for the command after it to succeed.
seed_wait() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Makes a CA and a *.example.com certificate, and writes the kubernetes.io/tls Secret.
seed_certs() {
  local dir=$1 name=${2:-server}
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=xgate demo CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  seed_issue "$dir" "$name"
}

seed_issue() {
  local dir=$1 name=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=*.example.com" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  printf 'subjectAltName=DNS:*.example.com,DNS:example.com\n' >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
}

# Writes the Secret admin-controlled-cert (namespace default) from certs/$1.{pem,key}.
seed_secret() {
  local name=$1
  cat >"$SEED_WORK/manifests/secret.yaml.tmp" <<YAML
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata:
  name: admin-controlled-cert
  namespace: default
data:
  tls.crt: $(base64 -w0 <"$SEED_WORK/certs/$name.pem")
  tls.key: $(base64 -w0 <"$SEED_WORK/certs/$name.key")
YAML
  mv "$SEED_WORK/manifests/secret.yaml.tmp" "$SEED_WORK/manifests/secret.yaml"
}

# Writes the manifests: the article's three v1alpha1 files verbatim (or seed-v1), plus what
# the article leaves out, taken from seed-v1: GatewayClass acme-lb, the Services and
# EndpointSlices.
seed_manifests() {
  local version=$1 dir=$SEED_WORK/manifests
  mkdir -p "$dir"
  if [ "$version" = v1alpha1 ]; then
    cp "$XGATE_SHARED"/examples/seed-v1alpha1/*.yaml "$dir/"
    /usr/bin/python3 - "$XGATE_SHARED/examples/seed-v1" "$dir/services.yaml" <<'PY'
import sys, yaml, pathlib
docs = []
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
    docs += [d for d in yaml.safe_load_all(f.read_text()) if d and d["kind"] in ("GatewayClass", "Service", "EndpointSlice")]
pathlib.Path(sys.argv[2]).write_text(yaml.safe_dump_all(docs))
PY
  else
    cp "$XGATE_SHARED"/examples/seed-v1/*.yaml "$dir/"
  fi
  seed_secret server
}

seed_netns() {
  ip netns add "$SEED_CLIENT"
  ip netns add "$SEED_NODE"
  ip -n "$SEED_NODE" link set lo up
  ip -n "$SEED_CLIENT" link set lo up
  ip link add "c$SEED_ID" netns "$SEED_CLIENT" type veth peer name "n$SEED_ID" netns "$SEED_NODE"
  ip -n "$SEED_CLIENT" addr add 198.18.0.2/24 dev "c$SEED_ID"
  ip -n "$SEED_NODE" addr add "$SEED_NODE_IP/24" dev "n$SEED_ID"
  ip -n "$SEED_CLIENT" link set "c$SEED_ID" up
  ip -n "$SEED_NODE" link set "n$SEED_ID" up
  ip -n "$SEED_CLIENT" route add 198.18.0.0/15 via "$SEED_NODE_IP"
  ip netns exec "$SEED_NODE" sysctl -qw net.ipv4.ip_forward=1
  if [ -n "$SEED_V6" ]; then
    ip -n "$SEED_CLIENT" addr add fd00:18::2/64 dev "c$SEED_ID" nodad
    ip -n "$SEED_NODE" addr add "$SEED_NODE_IP6/64" dev "n$SEED_ID" nodad
    ip -n "$SEED_CLIENT" route add fd00:18::/32 via "$SEED_NODE_IP6"
    ip netns exec "$SEED_NODE" sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
  seed_pods "$SEED_NODE"
}

# The backend pods: one namespace each, on bridges br1 (198.18.1.0/24) and br2
# (198.18.2.0/24) in namespace $1, which routes for them.
seed_pods() {
  local host=$1 net
  for net in 1 2; do
    ip -n "$host" link add "br$net" type bridge
    ip -n "$host" addr add "198.18.$net.1/24" dev "br$net"
    [ -n "$SEED_V6" ] && ip -n "$host" addr add "fd00:18:$net::1/64" dev "br$net" nodad
    ip -n "$host" link set "br$net" up
  done
  local i=0 entry ns svc ip
  for entry in "${SEED_BACKENDS[@]}"; do
    read -r ns svc ip <<<"$entry"
    i=$((i + 1))
    local pod=xgb$SEED_ID-$i
    ip netns add "$pod"
    ip -n "$pod" link set lo up
    ip link add "b$SEED_ID-$i" netns "$pod" type veth peer name "p$i" netns "$host"
    ip -n "$pod" addr add "$ip/24" dev "b$SEED_ID-$i"
    ip -n "$pod" link set "b$SEED_ID-$i" up
    ip -n "$pod" route add default via "${ip%.*}.1"
    if [ -n "$SEED_V6" ]; then
      ip -n "$pod" addr add "$(seed_v6_of "$ip")/64" dev "b$SEED_ID-$i" nodad
      ip -n "$pod" route add default via "$(seed_v6_of "${ip%.*}.1")"
    fi
    ip -n "$host" link set "p$i" master "br$(cut -d. -f3 <<<"$ip")"
    ip -n "$host" link set "p$i" up
  done
}

seed_backends() {
  local i=0 entry ns svc ip
  declare -A seen=()
  for entry in "${SEED_BACKENDS[@]}"; do
    read -r ns svc ip <<<"$entry"
    i=$((i + 1))
    local n=${seen[$svc]:-0}
    seen[$svc]=$((n + 1))
    local also=()
    [ -n "$SEED_V6" ] && also=(--listen "[$(seed_v6_of "$ip")]:8080")
    ip netns exec "xgb$SEED_ID-$i" "$XGATE_BUILD/xgate-echo" --listen "$ip:8080" "${also[@]}" \
      --namespace "$ns" --pod "$svc-$n" >"$SEED_WORK/echo-$i.log" 2>&1 &
    SEED_PIDS+=($!)
  done
  for entry in "${SEED_BACKENDS[@]}"; do
    read -r ns svc ip <<<"$entry"
    seed_wait 10 ip netns exec "$SEED_NODE" bash -c "exec 3<>/dev/tcp/$ip/8080" ||
      { seed_log "echo backend $ip did not start"; return 1; }
  done
}

# Starts the standalone agent in the node namespace on $SEED_WORK/manifests, attached to the
# client's veth; SEED_AGENT_ARGS (an array) adds flags.
seed_agent_start() {
  ip netns exec "$SEED_NODE" "$XGATE_BUILD/xgate-agent" --manifests "$SEED_WORK/manifests" \
    --attach "n$SEED_ID" --pin-root "/sys/fs/bpf/xgate-seed$SEED_ID" \
    --admin-socket "$SEED_WORK/admin.sock" --metrics-addr "$SEED_METRICS_ADDR" --detach-on-exit \
    ${SEED_AGENT_ARGS[@]+"${SEED_AGENT_ARGS[@]}"} >"$SEED_WORK/agent.log" 2>&1 &
  SEED_AGENT_PID=$!
}

# The agent's Prometheus text, scraped inside the node namespace.
seed_metrics() {
  ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$SEED_METRICS_ADDR/metrics"
}

# Sum of one metric's samples whose labels contain $2 (0 when none), from the text on stdin.
metric_sum() {
  awk -v name="$1" -v labels="${2:-}" '(index($0, name "{") == 1 || index($0, name " ") == 1) &&
    index($0, labels) { n += $NF }
    END { printf "%d\n", n }'
}

# A real Prometheus (Debian's prometheus) scraping the agent every second, in the node
# namespace on its loopback, with its own config and storage under $SEED_WORK; stopped with
# the bed (by PID). Waits until it is ready. SEED_PROM is its address.
SEED_PROM=127.0.0.1:9090
seed_prometheus() {
  command -v prometheus >/dev/null || { seed_log "prometheus is not installed (run ./tools/setup)"; return 1; }
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
    --storage.tsdb.path="$SEED_WORK/prometheus/data" --web.listen-address="$SEED_PROM" \
    >"$SEED_WORK/prometheus/log" 2>&1 &
  SEED_PIDS+=($!)
  seed_wait 30 eval '[ "$(seed_prom_get /-/ready)" = "Prometheus Server is Ready." ]' ||
    { seed_log "prometheus did not start:"; tail -n 20 "$SEED_WORK/prometheus/log" >&2; return 1; }
}
seed_prom_get() { ip netns exec "$SEED_NODE" curl -sS --max-time 5 "http://$SEED_PROM$1" "${@:2}"; }

# The agent that seedbed_up starts: the standalone one on the folder, once it serves
# (tools/lib/kubebed.sh replaces seed_agent with one on an API server).
seed_agent() { seed_folder_agent; }

seed_folder_agent() {
  seed_agent_start
  seed_wait "$(seed_start_wait)" seed_curl_ok https://foo.example.com/login ||
    { seed_log "the gateway did not start serving; agent log:"; tail -n 30 "$SEED_WORK/agent.log" >&2; return 1; }
}

# curl from the client namespace, the node address (or $SEED_DIAL, "[v6]" for IPv6) resolved
# for every *.example.com name.
seed_curl() {
  local url=$1
  shift
  local host=${url#https://}
  host=${host%%/*}
  ip netns exec "$SEED_CLIENT" curl -sS --max-time 5 --cacert "$SEED_WORK/certs/ca.pem" \
    --resolve "$host:443:${SEED_DIAL:-$SEED_NODE_IP}" "$@" "$url"
}

seed_curl_ok() { seed_curl "$1" -f -o /dev/null; }

# The pod that answered (the echo backend's "pod" field).
seed_pod() {
  seed_curl "$@" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pod"])'
}

seedbed_up() {
  local version=$1
  SEED_WORK=$(mktemp -d /tmp/xgate-seed.XXXXXX)
  mkdir -p "$SEED_WORK/certs"
  trap seedbed_down EXIT
  trap 'exit 130' INT TERM
  seed_certs "$SEED_WORK/certs" server
  seed_manifests "$version"
  seed_netns
  seed_backends
  # A test's own step between the bed and the agent (e.g. other servers on the node).
  if [ -n "${SEED_BEFORE_AGENT:-}" ]; then "$SEED_BEFORE_AGENT" || return 1; fi
  seed_agent
}

# /proc/PID/stat after the command's name: field 3 is the state, field 22 the start time.
seed_proc_stat() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  echo "${stat##*) }"
}
seed_start_time() { local f; f=$(seed_proc_stat "$1") && set -- $f && echo "${20}"; }
# Running (not a zombie) and still the process tracked as "pid:start".
seed_tracked_alive() {
  local entry=$1 f
  f=$(seed_proc_stat "${entry%%:*}") && set -- $f && [ "$1" != Z ] && [ "${20}" = "${entry#*:}" ]
}
seed_track() {
  local pid start
  for pid in "$@"; do
    start=$(seed_start_time "$pid") || continue
    [[ " ${SEED_TRACKED[*]} " == *" $pid:$start "* ]] || SEED_TRACKED+=("$pid:$start")
  done
}
# The agent of the moment and what it started: its children (its proxy, draining ones) and the
# proxy in its pid file (one it adopted from an agent SIGKILLed before it). Call it before
# killing an agent; seed_agent_stop calls it.
seed_track_agent() {
  [ -n "$SEED_AGENT_PID" ] || return 0
  seed_track "$SEED_AGENT_PID" $(cat /proc/"$SEED_AGENT_PID"/task/*/children 2>/dev/null) \
    $(cat "$SEED_WORK/proxy.sock.proxy-pid" 2>/dev/null)
}

# SIGTERM to every tracked process still running, SIGKILL to those left after 10 s; then
# our own children are reaped.
seed_stop_tracked() {
  local entry live=()
  for entry in ${SEED_TRACKED[@]+"${SEED_TRACKED[@]}"}; do
    seed_tracked_alive "$entry" && kill -TERM "${entry%%:*}" 2>/dev/null && live+=("$entry")
  done
  any_alive() {
    local e
    for e in ${live[@]+"${live[@]}"}; do seed_tracked_alive "$e" && return 0; done
    return 1
  }
  seed_wait 10 eval '! any_alive'
  for entry in ${live[@]+"${live[@]}"}; do
    seed_tracked_alive "$entry" && kill -KILL "${entry%%:*}" 2>/dev/null
  done
  local pid
  for pid in ${SEED_PIDS[@]+"${SEED_PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
}

seed_namespaces() {
  local i
  echo "$SEED_CLIENT" "$SEED_NODE" ${SEED_NETNS_EXTRA[@]+"${SEED_NETNS_EXTRA[@]}"}
  for i in $(seq 1 ${#SEED_BACKENDS[@]}); do echo "xgb$SEED_ID-$i"; done
}
# Processes still in the bed's namespaces (so of this run: the namespaces are its own), with
# their command lines; SIGKILLed after they are named, so that none outlives the bed.
seed_stop_leftovers() {
  local ns pid list=""
  for ns in $(seed_namespaces); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      list+="$pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)) in $ns; "
      kill -KILL "$pid" 2>/dev/null
    done
  done
  SEED_LEFTOVERS=$list
  [ -z "$list" ] || seed_log "left running after the bed's cleanup (now SIGKILLed): $list"
}

# SIGTERM (it detaches and stops its proxy), SIGKILL after 10 s.
seed_agent_stop() {
  [ -n "$SEED_AGENT_PID" ] || return 0
  seed_track_agent
  kill -TERM "$SEED_AGENT_PID" 2>/dev/null
  local deadline=$((SECONDS + 10))
  while kill -0 "$SEED_AGENT_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -KILL "$SEED_AGENT_PID" 2>/dev/null
  wait "$SEED_AGENT_PID" 2>/dev/null
  SEED_AGENT_PID=
}

seedbed_down() {
  trap - EXIT
  set +e  # cleanup goes on past any failure (and a killed process's wait status)
  seed_agent_stop
  # What the agents started outlives an agent that was SIGKILLed (its proxy, draining ones).
  seed_track ${SEED_PIDS[@]+"${SEED_PIDS[@]}"}
  seed_stop_tracked
  seed_stop_leftovers
  local ns
  for ns in $(seed_namespaces); do ip netns del "$ns" 2>/dev/null; done
  SEED_TRACKED=() SEED_NETNS_EXTRA=()
  rm -rf "/sys/fs/bpf/xgate-seed$SEED_ID" 2>/dev/null
  [ -n "$SEED_WORK" ] && [ -z "${SEED_KEEP:-}" ] && rm -rf "$SEED_WORK"
  return 0
}
