#!/bin/bash
# Runs a command in a fresh memory cgroup limited to LIMIT_MB (cgroup v1, as on the benchmark
# machine; needs root), the way a pod's memory limit confines it: page cache is charged to the
# group and reclaimed before the OOM killer ends the command. Prints the group's peak usage and
# exits with the command's status (137 when the OOM killer ended it). Used by docs/benchmarks.md
# ("a memory limit no longer kills it").
#
#   bench/in_memory_cgroup.sh 1800 build-hd/bench/analytics_bench --events=10000000 ...
set -u
if [[ $# -lt 2 ]]; then
  echo "usage: $0 LIMIT_MB command [args...]" >&2
  exit 2
fi
limit_mb=$1
shift
root=/sys/fs/cgroup/memory
if [[ ! -w $root ]]; then
  echo "$0: needs a writable cgroup v1 memory hierarchy at $root (root)" >&2
  exit 2
fi
group=$root/cohort-bench-$$
mkdir "$group"
trap 'rmdir "$group" 2>/dev/null' EXIT
echo $((limit_mb * 1024 * 1024)) > "$group/memory.limit_in_bytes"
(
  echo "$BASHPID" > "$group/cgroup.procs"
  exec "$@"
)
rc=$?
echo "exit $rc; peak usage $(($(cat "$group/memory.max_usage_in_bytes") / 1048576)) MB of" \
  "$limit_mb MB" >&2
exit $rc
