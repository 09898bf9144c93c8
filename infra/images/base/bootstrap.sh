#!/usr/bin/env bash
# Build an offline stand-in for python:3.11-slim from Debian packages and import it under that tag.
#
# Used only when no registry answers `docker pull python:3.11-slim` (air-gapped machines, our CI).
# The stand-in is Debian bookworm's Python 3.11 with pip and venv, plus the host's CA bundle so that
# containers can reach the package index through a TLS-inspecting proxy.
#
# Usage: bootstrap.sh [TAG]        (TAG defaults to python:3.11-slim)
set -euo pipefail

tag=${1:-python:3.11-slim}
suite=bookworm
root=$(mktemp -d /tmp/mlops-labs-base.XXXXXX)
trap 'rm -rf "$root"' EXIT

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "bootstrap: installing debootstrap" >&2
  apt-get install -y -q debootstrap >/dev/null
fi

echo "bootstrap: debootstrap $suite into $root" >&2
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  "$suite" "$root" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"

rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
mkdir -p "$root/usr/local/bin"
# Where the real python:3.11-slim has them (learners call /usr/local/bin/python3 from crontabs).
for name in python python3 python3.11; do ln -sf /usr/bin/python3.11 "$root/usr/local/bin/$name"; done
for name in pip pip3 pip3.11; do ln -sf /usr/bin/pip3 "$root/usr/local/bin/$name"; done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# Trim what a slim image does not carry.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/*

tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'LABEL org.mlops-labs.stand-in=debootstrap-bookworm' \
  -c 'CMD ["python3"]' - "$tag" >/dev/null
echo "bootstrap: imported $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)" >&2
