# shellcheck shell=bash
# CPU cgroups of a benchmark's own: each groups the processes of one role (a server under test,
# the load generator, the backend) to count their CPU time over a measured window and, for a
# server, to cap it with a quota so that it, not the load generator, is the bottleneck. Works on
# cgroup v2 (cpu controller enabled at the root) and on v1 (cpu and cpuacct hierarchies). Only
# groups created here are touched; cg_remove_all removes them. Source it, then:
#   cg_init PREFIX                  # fails (message on stderr) when no usable hierarchy exists
#   cg_create NAME [CPUS]           # CPUS: quota in CPUs (0.5 = half of one); none: no cap
#   cg_prefix NAME; "${CG_CMD[@]}" cmd...   # runs cmd inside the group (a command prefix)
#   cg_usage_us NAME                # CPU time of the group's processes so far, microseconds
#   cg_throttled NAME               # periods in which the quota stopped the group
#   cg_remove_all                   # after its processes have exited

CG_V2="" CG_PREFIX="" CG_NAMES=()
CG_PERIOD_US=10000  # short periods: a capped server waits at most a few ms, not 100 ms

cg_init() {
  CG_PREFIX=$1
  if grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    CG_V2=/sys/fs/cgroup
  elif [ -w /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
    CG_V2=""
  else
    echo "cgroup: neither a cgroup v2 root with the cpu controller nor v1 cpu and cpuacct" >&2
    return 1
  fi
}

# The folders of group NAME (one in v2; the cpu and the cpuacct one in v1, maybe the same).
cg_dirs() {
  if [ -n "$CG_V2" ]; then
    echo "$CG_V2/$CG_PREFIX-$1"
  else
    echo "/sys/fs/cgroup/cpu/$CG_PREFIX-$1 /sys/fs/cgroup/cpuacct/$CG_PREFIX-$1" |
      tr ' ' '\n' | sort -u | tr '\n' ' '
  fi
}

cg_create() {
  local name=$1 cpus=${2:-} dir quota
  for dir in $(cg_dirs "$name"); do mkdir -p "$dir"; done
  CG_NAMES+=("$name")
  # A large weight: the bench's processes are not starved by other work on the machine.
  if [ -n "$CG_V2" ]; then
    echo 1000 >"$CG_V2/$CG_PREFIX-$name/cpu.weight"
  else
    echo 10240 >"/sys/fs/cgroup/cpu/$CG_PREFIX-$name/cpu.shares"
  fi
  [ -n "$cpus" ] || return 0
  quota=$(awk -v c="$cpus" -v p="$CG_PERIOD_US" 'BEGIN {printf "%d", c * p}')
  if [ -n "$CG_V2" ]; then
    echo "$quota $CG_PERIOD_US" >"$CG_V2/$CG_PREFIX-$name/cpu.max"
  else
    echo "$CG_PERIOD_US" >"/sys/fs/cgroup/cpu/$CG_PREFIX-$name/cpu.cfs_period_us"
    echo "$quota" >"/sys/fs/cgroup/cpu/$CG_PREFIX-$name/cpu.cfs_quota_us"
  fi
}

# Sets CG_CMD to a command prefix that runs its command in group NAME: a shell joins the
# group, then execs the command (whose children stay in the group).
cg_prefix() {
  local procs="" dir
  for dir in $(cg_dirs "$1"); do procs+="$dir/cgroup.procs "; done
  CG_CMD=(sh -c 'for f in $1; do echo $$ >"$f"; done; shift; exec "$@"' cg-join "$procs")
}

cg_usage_us() {
  if [ -n "$CG_V2" ]; then
    awk '$1 == "usage_usec" {print $2}' "$CG_V2/$CG_PREFIX-$1/cpu.stat"
  else
    echo $(($(cat "/sys/fs/cgroup/cpuacct/$CG_PREFIX-$1/cpuacct.usage") / 1000))
  fi
}

cg_throttled() {
  local stat
  if [ -n "$CG_V2" ]; then stat=$CG_V2/$CG_PREFIX-$1/cpu.stat; else stat=/sys/fs/cgroup/cpu/$CG_PREFIX-$1/cpu.stat; fi
  awk '$1 == "nr_throttled" {print $2}' "$stat"
}

# Removes the groups (a group empties once its processes are reaped: bounded retries).
cg_remove_all() {
  local name dir deadline
  for name in "${CG_NAMES[@]}"; do
    for dir in $(cg_dirs "$name"); do
      deadline=$((SECONDS + 5))
      while [ -d "$dir" ] && ! rmdir "$dir" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      [ -d "$dir" ] && echo "cgroup: could not remove $dir" >&2
    done
  done
  CG_NAMES=()
}
