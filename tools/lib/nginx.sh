# shellcheck shell=bash
# An nginx of our own (benchmarks, tests): every file it writes lies in its own folder. Without
# this, an nginx started as root uses the package's temp folders (/var/lib/nginx/*) and chowns
# them to its worker user, which breaks the machine's own nginx. Source it, then:
#   { nginx_main_conf DIR; echo 'events {}'; echo "http { $(nginx_http_conf DIR) server {...} }"; } >DIR/nginx.conf
#   nginx_run DIR [command prefix...]   # in the foreground: `nginx_run DIR ip netns exec NS &`

# Main-context lines: one worker, in the foreground, the pid file in DIR, errors to stderr.
nginx_main_conf() {
  printf 'worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log stderr error;\n' "$1"
}

# http-context lines: temporary files under DIR, no access log.
nginx_http_conf() {
  local kind
  for kind in client_body proxy fastcgi uwsgi scgi; do
    printf '  %s_temp_path %s/%s;\n' "$kind" "$1" "$kind"
  done
  printf '  access_log off;\n'
}

# Runs nginx on DIR/nginx.conf with DIR as its prefix (after the command prefix, if any).
nginx_run() {
  local dir=$1
  shift
  exec "$@" nginx -p "$dir" -e stderr -c "$dir/nginx.conf"
}
