#!/usr/bin/env bash
# Starts a throwaway Docker engine (host networking only, vfs storage) and a local registry for the Docker tests.
#
#   env_lines=$(.ci/docker-up.sh DIR) && eval "$env_lines"   # exports DOCKER_HOST and CHECKSTACK_TEST_REGISTRY
#   .ci/docker-down.sh DIR                                  # stops both and removes DIR
#
# Needs root and the Debian packages docker.io and docker-registry. Everything lives under DIR; logs are
# DIR/dockerd.log and DIR/registry.log. Progress goes to stderr; stdout carries only the export lines.
# REGISTRY_ADDR overrides the registry's address (default 127.0.0.1:5000).
set -euo pipefail

dir=${1:?usage: docker-up.sh DIR}
registry_addr=${REGISTRY_ADDR:-127.0.0.1:5000}
timeout_seconds=${DOCKER_UP_TIMEOUT:-60}

for tool in dockerd docker-registry docker node; do
  command -v "$tool" >/dev/null || { echo "docker-up: $tool is missing (apt-get install docker.io docker-registry)" >&2; exit 1; }
done
mkdir -p "$dir/data" "$dir/exec" "$dir/registry"

# Engine: no bridge and no iptables (containers use the host network), vfs so no overlay support is needed.
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  -H "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
  </dev/null >"$dir/dockerd.log" 2>&1 &
echo $! >"$dir/dockerd.launcher.pid"

# Registry: filesystem storage under DIR; deletes enabled so a test can break an image on purpose.
cat >"$dir/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry
  delete:
    enabled: true
http:
  addr: $registry_addr
  secret: checkstack-chatops-ci
YAML
docker-registry serve "$dir/registry.yml" </dev/null >"$dir/registry.log" 2>&1 &
echo $! >"$dir/registry.pid"

# Wait until both answer; a dead or silent engine is a failure, never a reason to fake one.
answers() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; }
deadline=$((SECONDS + timeout_seconds))
until DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$dir/dockerd.launcher.pid")" 2>/dev/null || ((SECONDS > deadline)); then
    echo "docker-up: dockerd did not come up; its log:" >&2
    cat "$dir/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
until answers "http://$registry_addr/v2/"; do
  if ! kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null || ((SECONDS > deadline)); then
    echo "docker-up: the registry did not come up on $registry_addr; its log:" >&2
    cat "$dir/registry.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "docker-up: engine at unix://$dir/docker.sock, registry at $registry_addr" >&2

echo "export DOCKER_HOST=unix://$dir/docker.sock"
echo "export CHECKSTACK_TEST_REGISTRY=$registry_addr"
