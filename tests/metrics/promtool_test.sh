#!/usr/bin/env bash
# A real agent's /metrics page passes `promtool check metrics` (Debian package prometheus),
# and every family on it is listed in docs/metrics.md. Usage: promtool_test.sh proxy|no-proxy
#   proxy     the seed bed (v1): an HTTPS Gateway, so xgate-proxy runs; after some traffic
#   no-proxy  the L4 example (../shared/examples/l4): TCP and UDP listeners only, no proxy
source "$(dirname "$0")/../e2e/bed.sh"
command -v promtool >/dev/null || { echo "promtool is not installed (run ./tools/setup)" >&2; exit 1; }
DOC=$here/../../docs/metrics.md

mode=${1:?proxy or no-proxy}
case $mode in
  proxy)
    seedbed_up v1 || { fail "test bed up"; e2e_summary; exit 1; }
    for path in login home nope; do seed_curl "https://foo.example.com/$path" -o /dev/null; done
    seed_curl https://bar.example.com/ -o /dev/null
    seed_curl https://nope.example.com/ -o /dev/null
    ;;
  no-proxy)
    SEED_WORK=$(mktemp -d /tmp/xgate-seed.XXXXXX)
    trap seedbed_down EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$SEED_WORK/manifests"
    cp "$XGATE_SHARED/examples/l4/l4.yaml" "$SEED_WORK/manifests/"
    printf '%s\n' "apiVersion: gateway.networking.k8s.io/v1" "kind: GatewayClass" \
      "metadata: {name: acme-lb}" "spec: {controllerName: xgate.dev/node-agent}" \
      >"$SEED_WORK/manifests/gatewayclass.yaml"
    seed_netns
    seed_agent_start
    applied() { seed_metrics | grep -x 'xgate_agent_snapshot_generation [1-9][0-9]*' >/dev/null; }
    seed_wait 30 applied || { fail "the agent did not apply the L4 example"; tail -n 20 "$SEED_WORK/agent.log"; }
    ;;
  *) echo "usage: $0 proxy|no-proxy" >&2; exit 2 ;;
esac

page=$(seed_metrics)
echo "$(grep -c '^# TYPE' <<<"$page") families, $(grep -vc '^#' <<<"$page") samples"
if [ "$mode" = proxy ]; then
  check "the proxy answered the scrape (xgate_proxy_up 1)" grep -qx 'xgate_proxy_up 1' <<<"$page"
  check "the proxy counted requests" grep -q '^xgate_proxy_requests_total{route="foo/foo-route"' <<<"$page"
else
  check "no proxy runs (xgate_proxy_up 0)" grep -qx 'xgate_proxy_up 0' <<<"$page"
  check "no L7 port in the snapshot" grep -qx 'xgate_agent_snapshot_l7_ports 0' <<<"$page"
  check "no xgate_proxy_requests_total family" bash -c '! grep -q "^# TYPE xgate_proxy_requests_total" <<<"$1"' _ "$page"
fi
check "the fast path's maps were read" grep -qx 'xgate_fastpath_maps_readable 1' <<<"$page"

lint=$(promtool check metrics <<<"$page" 2>&1)
rc=$?
check "promtool check metrics exits 0 (rc $rc)" test "$rc" = 0
expect_eq "promtool reports no problem" "$lint" ""

undocumented=()
for family in $(awk '$1 == "#" && $2 == "TYPE" {print $3}' <<<"$page"); do
  grep -qF "\`$family\`" "$DOC" || undocumented+=("$family")
done
expect_eq "every family on the page is listed in docs/metrics.md" "${undocumented[*]}" ""

seedbed_down
e2e_summary
