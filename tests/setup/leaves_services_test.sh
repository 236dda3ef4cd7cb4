#!/usr/bin/env bash
# ./tools/setup and the L7 benchmarks leave the machine's own services alone: an nginx, an
# HAProxy and a Prometheus of "the developer's" (real ones, so `pkill -x nginx` or
# `systemctl stop nginx` would hit them), listening in a namespace of the test's own, still run
# (same PIDs) and answer after `./tools/setup`, after setup installing a package (apt-get
# faked: policy-rc.d present only during the install, the machine's own left as it is), and
# after tools/bench/l7/run and cost, which run with every file system read-only but a private
# /tmp (so they write no file outside their temp folders; /var/lib/nginx is an empty read-only
# folder there, so an nginx of theirs that would use the package's temp folders cannot start).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../e2e/lib.sh"
require_root
source "$root/tools/lib/nginx.sh"
source "$root/tools/lib/seedbed.sh"  # seed_wait
export XGATE_BUILD=${XGATE_BUILD:?}
for bin in nginx haproxy prometheus unshare; do
  command -v "$bin" >/dev/null || { echo "$bin is not installed (run ./tools/setup)" >&2; exit 1; }
done

NS=xgsv$$
WORK=$(mktemp -d /tmp/xgate-setup-test.XXXXXX)
PIDS=()
cleanup() {
  set +e
  local pid deadline
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up

# The developer's services.
mkdir -p "$WORK/nginx" "$WORK/prometheus"
cat >"$WORK/nginx/nginx.conf" <<CONF
$(nginx_main_conf "$WORK/nginx")
events { worker_connections 64; }
http {
$(nginx_http_conf "$WORK/nginx")
  server { listen 127.0.0.1:8080; return 200 "developer nginx\n"; }
}
CONF
nginx_run "$WORK/nginx" ip netns exec "$NS" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/haproxy.cfg" <<CONF
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:8081
  http-request return status 200 content-type text/plain string "developer haproxy"
CONF
ip netns exec "$NS" haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus/prometheus.yml"
ip netns exec "$NS" prometheus --config.file="$WORK/prometheus/prometheus.yml" \
  --storage.tsdb.path="$WORK/prometheus/data" --web.listen-address=127.0.0.1:9090 \
  >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)

get() { ip netns exec "$NS" curl -sS --max-time 3 "http://127.0.0.1:$1"; }
answers() { [ "$(get "$1")" = "$2" ]; }
all_answer() {
  answers 8080/ "developer nginx" && answers 8081/ "developer haproxy" &&
    answers 9090/-/ready "Prometheus Server is Ready."
}
seed_wait 30 all_answer || {
  fail "the developer's services did not start"
  tail -n 5 "$WORK"/*.log
  e2e_summary
  exit 1
}
# Each process with its start time (a restarted service would have another).
started() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
declare -A START=()
nginx_worker=$(pgrep -P "${PIDS[0]}" | head -1)
for pid in "${PIDS[@]}" $nginx_worker; do START[$pid]=$(started "$pid"); done
echo "developer's services: nginx ${PIDS[0]} (worker $nginx_worker), haproxy ${PIDS[1]}, prometheus ${PIDS[2]}"

still_serving() {
  local pid
  for pid in "${!START[@]}"; do
    [ "$(started "$pid")" = "${START[$pid]}" ] || { echo "pid $pid ($(cat /proc/$pid/comm 2>/dev/null)) is gone" >&2; return 1; }
  done
  all_answer
}

# A file's state: its content's hash, or "absent".
file_state() { if [ -e "$1" ]; then sha256sum <"$1"; else echo absent; fi; }
SYSTEM_POLICY=/usr/sbin/policy-rc.d
system_policy_before=$(file_state "$SYSTEM_POLICY")

# 1. Setup as the tests run it (nothing missing: quick), without its build step.
XGATE_SETUP_NO_BUILD=1 "$root/tools/setup" >"$WORK/setup.log" 2>&1
rc=$?
check "tools/setup exits 0 (rc $rc)" test "$rc" = 0 || tail -n 20 "$WORK/setup.log"
check "the services still run and answer after tools/setup" still_serving

# 2. Setup installing a package, apt-get and dpkg-query faked: the fake install records what
# the policy-rc.d said about starting nginx.
mkdir -p "$WORK/fakebin"
cat >"$WORK/fakebin/dpkg-query" <<'SH'
#!/bin/sh
for last; do :; done
[ "$last" = "$FAKE_MISSING" ] && exit 1
printf 'install ok installed'
SH
cat >"$WORK/fakebin/apt-get" <<'SH'
#!/bin/sh
[ "$1" = install ] || exit 0
policy=${XGATE_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ -x "$policy" ]; then "$policy" nginx start; echo "policy-rc.d exits $?"; else echo "no policy-rc.d"; fi >"$FAKE_LOG"
exit "$FAKE_APT_RC"
SH
chmod +x "$WORK/fakebin/"*
# fake_setup POLICY_PATH APT_RC: runs setup with wrk missing; echoes its exit code.
fake_setup() {
  PATH="$WORK/fakebin:$PATH" XGATE_POLICY_RC_D=$1 FAKE_APT_RC=$2 FAKE_MISSING=wrk \
    FAKE_LOG="$WORK/fake-apt.log" XGATE_SETUP_NO_BUILD=1 "$root/tools/setup" >>"$WORK/setup.log" 2>&1
  echo $?
}
policy=$WORK/policy-a/policy-rc.d
mkdir -p "$(dirname "$policy")"
expect_eq "fake install, no policy-rc.d before: setup exits 0" "$(fake_setup "$policy" 0)" 0
expect_eq "  during the install a policy-rc.d refuses to start services" \
  "$(cat "$WORK/fake-apt.log")" "policy-rc.d exits 101"
expect_eq "  after it, the policy-rc.d is gone" "$(file_state "$policy")" absent
check "fake install that fails: setup fails" test "$(fake_setup "$policy" 100)" != 0
expect_eq "  during the install a policy-rc.d refuses to start services" \
  "$(cat "$WORK/fake-apt.log")" "policy-rc.d exits 101"
expect_eq "  after the failed install, the policy-rc.d is gone" "$(file_state "$policy")" absent
printf '#!/bin/sh\n# the machine owner'"'"'s\nexit 0\n' >"$policy"
chmod 755 "$policy"
own=$(file_state "$policy")
expect_eq "fake install, the machine's own policy-rc.d (allows starts): setup exits 0" \
  "$(fake_setup "$policy" 0)" 0
expect_eq "  the install used it as it is" "$(cat "$WORK/fake-apt.log")" "policy-rc.d exits 0"
expect_eq "  and it is left unchanged" "$(file_state "$policy")" "$own"
expect_eq "fake install with the system's $SYSTEM_POLICY: setup exits 0" \
  "$(fake_setup "$SYSTEM_POLICY" 0)" 0
expect_eq "  during the install a policy-rc.d refuses to start services" \
  "$(cat "$WORK/fake-apt.log")" "$([ "$system_policy_before" = absent ] && echo 'policy-rc.d exits 101' ||
    echo "policy-rc.d exits $("$SYSTEM_POLICY" nginx start >/dev/null 2>&1; echo $?)")"
expect_eq "  $SYSTEM_POLICY as it was before" "$(file_state "$SYSTEM_POLICY")" "$system_policy_before"
check "the services still run and answer after the installs" still_serving

# 3. The benchmarks, with every file system read-only but /proc, /sys, /dev, the netns folder
# and a private /tmp; prints what they left in /tmp.
read_only_run() {
  unshare --mount --propagation private -- bash -c '
    for m in $(findmnt -rno TARGET | grep -vE "^/(proc|sys|dev|run/netns)(/|$)"); do
      mount -o remount,bind,ro "$m" 2>/dev/null
    done
    mount -t tmpfs tmpfs /tmp && mount -t tmpfs -o ro tmpfs /var/lib/nginx || exit 99
    { [ -w /etc ] || [ -w /var/lib ]; } && { echo "/ is still writable"; exit 99; }
    "$@"
    rc=$?
    echo "left in /tmp: [$(ls -A /tmp)]"
    exit $rc' bash "$@"
}
# bench NAME RESULT_PATTERN ARGS...: tools/bench/l7/NAME on the read-only machine.
bench() {
  local name=$1 result=$2 out rc
  shift 2
  out=$(read_only_run "$root/tools/bench/l7/$name" "$@" 2>"$WORK/bench-$name.err")
  rc=$?
  check "tools/bench/l7/$name on a read-only machine exits 0 (rc $rc)" test "$rc" = 0 ||
    tail -n 20 "$WORK/bench-$name.err"
  check "  it printed its result" grep -q "$result" <<<"$out"
  check "  it left nothing in /tmp" grep -qx 'left in /tmp: \[\]' <<<"$out"
  check "the services still run and answer after tools/bench/l7/$name" still_serving
}
bench run '^| https/1.1 keep-alive | haproxy |' --rounds 1 --duration 1
if command -v valgrind >/dev/null && command -v h2load >/dev/null; then
  bench cost 'user-space instructions per request' --n1 100 --n2 200
else
  echo "tools/bench/l7/cost not run: valgrind or h2load is not installed"
fi

e2e_summary
