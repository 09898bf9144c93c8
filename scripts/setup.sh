#!/usr/bin/env bash
# Set up a machine to grade labs and to run mlops-labs' own tests. Idempotent.
#   1. a virtual environment in .venv with mlops-labs and its dev tools;
#   2. a Docker engine: used as it is when one answers; otherwise (as root, e.g. in CI) Debian's
#      docker.io is installed and dockerd started, its PID written to .dockerd.pid;
#   3. the base image python:3.11-slim (pulled, or bootstrapped offline), the sandbox runner image
#      and the Prometheus image;
#   4. as root, Debian's chromium for the browser test of batch's class report.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e '.[dev]'

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: no Docker engine answers; start Docker (Docker Desktop or 'sudo systemctl start docker')" >&2
    exit 3
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "setup: installing Debian's docker.io" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >/dev/null
  fi
  echo "setup: starting dockerd (log: /tmp/mlops-labs-dockerd.log)" >&2
  nohup dockerd --storage-driver=overlay2 --icc=false >/tmp/mlops-labs-dockerd.log 2>&1 &
  echo $! > .dockerd.pid
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/mlops-labs-dockerd.log >&2; exit 3; }
fi
if [ "$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi
# 4. a headless browser for the tests of batch's class-report.html (as root, where apt-get is)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
  && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium (the class report's browser test)" >&2
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || echo "setup: chromium could not be installed; the browser test will say so" >&2
fi

.venv/bin/mlops-labs doctor --prepare
echo "setup: ready in $((SECONDS - started)) s" >&2
