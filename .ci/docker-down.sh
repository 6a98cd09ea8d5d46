#!/usr/bin/env bash
# Stops what .ci/docker-up.sh started under DIR (by the PIDs it recorded) and removes DIR.
set -uo pipefail

dir=${1:?usage: docker-down.sh DIR}
[ -d "$dir" ] || exit 0

# Stops one process by its recorded PID: TERM, up to 30 s for a clean exit, then KILL.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  echo "docker-down: $pid did not stop, killing it" >&2
  kill -KILL "$pid" 2>/dev/null
}

[ -f "$dir/registry.pid" ] && stop_pid "$(cat "$dir/registry.pid")"
# dockerd stops its containers and its own containerd on TERM.
if [ -f "$dir/docker.pid" ]; then stop_pid "$(cat "$dir/docker.pid")"
elif [ -f "$dir/dockerd.launcher.pid" ]; then stop_pid "$(cat "$dir/dockerd.launcher.pid")"; fi
for pidfile in "$dir"/exec/containerd/containerd.pid; do
  [ -f "$pidfile" ] && stop_pid "$(cat "$pidfile")"
done

# Mounts the engine may have left under DIR would make rm fail or reach outside it.
grep -o " $dir/[^ ]*" /proc/mounts | sort -r | while read -r mountpoint; do umount -l "$mountpoint" 2>/dev/null; done
rm -rf "$dir"
