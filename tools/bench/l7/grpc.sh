# shellcheck shell=bash
# The gRPC section of tools/bench/l7/run (sourced by it, after h2.sh): unary gRPC calls sent by
# h2load over TLS with ALPN h2 to each peer's 443 listener (:authority grpc.example.com, the
# same 10 connections x 10 streams as the h2 rows), a gRPC-framed body (an empty EchoRequest)
# POSTed with content-type application/grpc and te: trailers to GRPC_METHOD. Each peer routes
# that method to the same gRPC backend over h2c: xgate by a GRPCRoute to an H2C cluster, nginx
# by grpc_pass, HAProxy by a server with `proto h2`. The backend is xgate-echo --grpc (the
# conformance GrpcEcho service, gRPC C++), on CPU 1 beside h2load, in the backend's cgroup.
#
# Every call must end with grpc-status 0, and h2load counts HTTP statuses only: a gRPC error is
# an HTTP 200 whose trailers, or whose only HEADERS (a trailers-only answer, as proxies answer
# errors of their own), carry another grpc-status. So h2load runs with -v, which prints the
# response header fields of every call (not its trailers), and the calls counted as errors
# are: those h2load counted failed (not 2xx, reset, timed out) plus the trailers-only answers
# with a grpc-status other than 0. The trailers of the answers that came with a message are
# checked on a sample after each measured window: GRPC_SAMPLE calls through the same peer by
# nghttp (-v prints trailers), each of which must end with grpc-status 0. The errors are told
# by status and message on stderr and counted under the table. (-v costs h2load some CPU, on
# CPU 1; the CPU per request compared is the server's own.)

GRPC_HOST=grpc.example.com
GRPC_METHOD=/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo
# shellcheck disable=SC2034 # used by run
GRPC_BACKEND=127.0.0.20:9090
declare -A GRPC_ERRORS

# The request body: one gRPC message frame (not compressed, length 0: an empty EchoRequest).
grpc_request_file() { printf '\0\0\0\0\0' >"$WORK/grpc-request"; }

# The request's header fields and body, for h2load and nghttp alike.
grpc_call_args() {
  echo "-H :authority:$GRPC_HOST -H content-type:application/grpc -H te:trailers"
  echo "-d $WORK/grpc-request"
}

# Trailers-only answers with a grpc-status other than 0 in h2load's -v output `out`, which
# prints each response header field as "[stream_id=N] name: value" -> their count; each
# status and message seen is told on stderr.
grpc_errors_in_headers() {
  local peer=$1 out=$2 bad
  bad=$(grep -ac '^\[stream_id=[0-9]*\] grpc-status: [1-9]' "$out" || true)
  if ((bad > 0)); then
    echo "bench: grpc $peer: $bad calls answered with an error of the proxy's own:" >&2
    grep -a '^\[stream_id=[0-9]*\] grpc-\(status\|message\): ' "$out" |
      grep -v 'grpc-status: 0$' | cut -d' ' -f2- | sort | uniq -c | sort -rn | head -n 10 >&2
  fi
  echo "$bad"
}

# GRPC_SAMPLE calls through `peer` by nghttp (concurrent streams on one connection) -> how
# many did not end with grpc-status 0 (in their trailers, or trailers-only).
GRPC_SAMPLE=${XGATE_GRPC_SAMPLE:-100}
grpc_sample() {
  local peer=$1 out=$WORK/grpc-sample.$1.out ok
  # shellcheck disable=SC2046
  "${IN_NS[@]}" nghttp -v -n -m "$GRPC_SAMPLE" $(grpc_call_args) \
    "https://${ADDR[$peer]}:$TLS_PORT$GRPC_METHOD" >"$out" 2>&1 || true
  ok=$(grep -ac '^\[ *[0-9.]*\] recv (stream_id=[0-9]*) grpc-status: 0$' "$out" || true)
  if ((ok < GRPC_SAMPLE)); then
    echo "bench: grpc $peer: $((GRPC_SAMPLE - ok)) of $GRPC_SAMPLE sampled calls did not end" \
      "with grpc-status 0:" >&2
    grep -a 'grpc-status\|grpc-message\|:status\|error' "$out" | grep -v 'grpc-status: 0$' |
      sed 's/^\[ *[0-9.]*\] \(recv (stream_id=[0-9]*) \)\?//' | sort | uniq -c | sort -rn |
      head -n 10 >&2
  fi
  echo $((GRPC_SAMPLE - ok))
}

# -> h2load_measure's fields and the calls counted as errors (see above).
grpc_measure() {
  local peer=$1 fields failed
  # shellcheck disable=SC2046 # the arguments are words without blanks
  fields=$(h2load_measure "$peer" "https://${ADDR[$peer]}:$TLS_PORT$GRPC_METHOD" -v \
    $(grpc_call_args))
  read -r _ _ _ _ _ _ failed <<<"$fields"
  echo "$fields $((${failed:-0} + $(grpc_errors_in_headers "$peer" "$WORK/h2load.$peer.out") +
    $(grpc_sample "$peer")))"
  : >"$WORK/h2load.$peer.out"  # MBs of header lines per round
}

# One call through `peer` answered grpc-status 0 in its trailers (for the start-up wait);
# nghttp's output in $WORK/grpc-up.PEER.out.
grpc_up() {
  # shellcheck disable=SC2046
  "${IN_NS[@]}" nghttp -v -n $(grpc_call_args) "https://${ADDR[$1]}:$TLS_PORT$GRPC_METHOD" \
    >"$WORK/grpc-up.$1.out" 2>&1 || return 1
  grep -aq '^\[ *[0-9.]*\] recv (stream_id=[0-9]*) grpc-status: 0$' "$WORK/grpc-up.$1.out"
}

grpc_rounds() {
  local peer
  h2load_rounds grpc grpc grpc_measure
  for peer in xgate nginx haproxy; do
    GRPC_ERRORS[$peer]=$(tr ' ' '\n' <<<"${H2_MORE[grpc/$peer]}" | awk '{n += $1} END {print n + 0}')
  done
}

grpc_rows() { h2load_rows grpc "gRPC unary, h2 TLS, ${H2_CLIENTS} conns x ${H2_STREAMS} streams"; }

# Under the table: the calls of every round that did not end with grpc-status 0.
grpc_error_line() {
  echo "gRPC calls not answered grpc-status 0 (all rounds): xgate ${GRPC_ERRORS[xgate]}," \
    "nginx ${GRPC_ERRORS[nginx]}, haproxy ${GRPC_ERRORS[haproxy]}"
}
