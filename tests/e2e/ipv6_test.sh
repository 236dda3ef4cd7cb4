#!/usr/bin/env bash
# IPv6 end to end for L7 (issue #16, point 5): the seed bed dual-stack (SEED_V6), the Gateway
# prod-web given three addresses (the node's IPv4 and IPv6 addresses, and an IPv6 address the
# node does not have, which is steered to the proxy), IPv6 EndpointSlices beside the IPv4 ones,
# and foo-home reachable over IPv6 only. HTTPS over HTTP/1.1 and HTTP/2 on each address.
source "$(dirname "$0")/bed.sh"

SEED_V6=1
VIP6=fd00:18:99::10

# Between the bed and the agent: the dual-stack Gateway and the IPv6 slices.
dual_stack_manifests() {
  /usr/bin/python3 - "$SEED_WORK/manifests" "$SEED_NODE_IP" "$SEED_NODE_IP6" "$VIP6" <<'PY'
import ipaddress, pathlib, sys, yaml
folder, v4, v6, vip6 = pathlib.Path(sys.argv[1]), *sys.argv[2:]
def v6_of(a):
    _, _, n, m = a.split(".")
    return f"fd00:18:{n}::{m}"
for path in sorted(folder.glob("*.yaml")):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    out = []
    for d in docs:
        if d["kind"] == "Gateway":
            d["spec"]["addresses"] = [{"type": "IPAddress", "value": a} for a in (v4, v6, vip6)]
        if d["kind"] == "EndpointSlice" and d.get("addressType") == "IPv4":
            six = yaml.safe_load(yaml.safe_dump(d))
            six["metadata"]["name"] += "-v6"
            six["addressType"] = "IPv6"
            for e in six["endpoints"]:
                e["addresses"] = [v6_of(a) for a in e["addresses"]]
            out.append(six)
            if d["metadata"]["labels"]["kubernetes.io/service-name"] == "foo-home":
                continue  # foo-home: IPv6 endpoints only
        out.append(d)
    path.write_text(yaml.safe_dump_all(out))
PY
}
SEED_BEFORE_AGENT=dual_stack_manifests
seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }

for dial in "$SEED_NODE_IP" "[$SEED_NODE_IP6]" "[$VIP6]"; do
  for http in 1.1 2; do
    got=$(SEED_DIAL=$dial seed_curl https://foo.example.com/login --http"$http" \
      -w '\n%{http_version} %{remote_ip}')
    pod=$(head -n1 <<<"$got" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pod"])' 2>/dev/null)
    expect_eq "foo /login on $dial over HTTP/$http -> foo-auth" "$pod" foo-auth-0
    expect_eq "  answered over HTTP/$http from ${dial//[\[\]]/}" "$(tail -n1 <<<"$got")" \
      "$http ${dial//[\[\]]/}"
  done
done
home=$(SEED_DIAL="[$VIP6]" seed_pod https://foo.example.com/home)
expect_eq "foo /home (IPv6 endpoints only) -> foo-home" "$home" foo-home-0
check "the proxy reached foo-home on its IPv6 address" \
  grep -q "\"endpoint\":\"\\[$(seed_v6_of 198.18.1.12)\\]:8080\"" "$SEED_WORK/agent.log"
steered=$(seed_metrics | metric_sum xgate_steer_packets_total 'result="listener"')
check "the IPv6 address the node does not have was steered ($steered new connections)" \
  test "$steered" -ge 2
bar=$(SEED_DIAL="[$SEED_NODE_IP6]" seed_pod https://bar.example.com/ -H 'env: canary')
expect_eq "bar env: canary over IPv6 -> bar-v2" "$bar" bar-v2-0
addresses=$("$XGATE_BUILD/xgatectl" --socket "$SEED_WORK/admin.sock" get gateways -o json |
  /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(a["value"] for g in json.load(sys.stdin)["items"] for a in g.get("status",{}).get("addresses",[]))))' 2>&1)
check "Gateway status lists the three addresses ($addresses)" \
  test "$addresses" = "$(printf '%s\n' "$SEED_NODE_IP" "$SEED_NODE_IP6" "$VIP6" | sort | tr '\n' ' ' | sed 's/ $//')"

seedbed_down
e2e_summary
