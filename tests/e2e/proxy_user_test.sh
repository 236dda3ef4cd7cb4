#!/usr/bin/env bash
# The proxy as an unprivileged user on the DaemonSet's path (issue #18, point 5): the seed bed's
# agent attached to the node's interface with --proxy-user nobody, the Gateway given a second
# address the node does not have (steered to the proxy through the pinned steer map, which the
# proxy opened before it dropped root). The proxy runs as nobody with only its capabilities,
# and serves HTTPS on the node's address and on the steered one.
source "$(dirname "$0")/bed.sh"

VIP=198.18.99.10
SEED_AGENT_ARGS=(--proxy-user nobody)
before_agent() {
  # The bed's work folder is mktemp's 0700: the proxy's user must be able to pass through it to
  # its own folder (as /run/xgate is on a node).
  chmod 0711 "$SEED_WORK"
  /usr/bin/python3 - "$SEED_WORK/manifests" "$SEED_NODE_IP" "$VIP" <<'PY'
import pathlib, sys, yaml
folder, node, vip = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for path in sorted(folder.glob("*.yaml")):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for d in docs:
        if d["kind"] == "Gateway":
            d["spec"]["addresses"] = [{"type": "IPAddress", "value": a} for a in (node, vip)]
    path.write_text(yaml.safe_dump_all(docs))
PY
}
SEED_BEFORE_AGENT=before_agent
seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }

proxy=$(pgrep -P "$SEED_AGENT_PID" -x xgate-proxy | head -n1)
check "the agent started xgate-proxy ($proxy)" test -n "$proxy"
nobody=$(id -u nobody)
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$proxy/status" 2>/dev/null)
expect_eq "the proxy's real, effective, saved and file uid are nobody's" "$uid" \
  "$nobody $nobody $nobody $nobody"
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$proxy/status" 2>/dev/null)
check "the proxy kept no capability beyond NET_BIND_SERVICE, NET_ADMIN and BPF (CapEff $capeff)" \
  test "$((16#${capeff:-ffffffffff} & ~(1 << 10 | 1 << 12 | 1 << 39)))" = 0
for dial in "$SEED_NODE_IP" "$VIP"; do
  pod=$(SEED_DIAL=$dial seed_pod https://foo.example.com/login)
  expect_eq "foo /login on $dial -> foo-auth" "$pod" foo-auth-0
  pod=$(SEED_DIAL=$dial seed_pod https://bar.example.com/ -H 'env: canary')
  expect_eq "bar env: canary on $dial -> bar-v2" "$pod" bar-v2-0
done
# A restart (SIGTERM: the proxy hands its listeners to the agent's store and drains) brings
# up the next proxy as nobody too, taking the sockets through the store it was given.
kill -TERM "$proxy"
next_proxy() {
  next=$(pgrep -P "$SEED_AGENT_PID" -x xgate-proxy | grep -vx "$proxy" | head -n1)
  [ -n "$next" ] && [ "$(seed_pod https://foo.example.com/login)" = foo-auth-0 ]
}
check "after a SIGTERM the agent started the next proxy, which serves" seed_wait 30 next_proxy
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$next/status" 2>/dev/null)
expect_eq "the next proxy runs as nobody too" "$uid" "$nobody $nobody $nobody $nobody"
check "it took its listeners from the agent's store" \
  grep -q "listening groups handed to pid $next" "$SEED_WORK/agent.log"
steered=$(seed_metrics | metric_sum xgate_steer_packets_total 'result="listener"')
check "the address the node does not have was steered ($steered new connections)" \
  test "$steered" -ge 2

seedbed_down
e2e_summary
