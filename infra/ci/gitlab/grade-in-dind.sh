#!/usr/bin/env bash
# The script of the GitLab template's job (mlops-labs.gitlab-ci.yml): grade the project with the
# Docker-in-Docker service as the engine.
#
# The graders need their engine's loopback (a learner's service is published on 127.0.0.1 of the
# engine's host) and its filesystem (they bind-mount staged copies from /tmp and the lab's files).
# A docker:dind service is another host than the job's container, so the grading runs in a
# container on that engine: --network host (the engine's loopback), the engine's socket, and the
# engine host's /tmp at /tmp, where the checkout of mlops-labs, the submission and the report go,
# so every path the grader mounts names the same files on both sides (as in infra/batch-k8s).
#
# Needs the docker CLI (DOCKER_HOST and TLS settings as the template sets them) and bash. Settings:
# those of infra/ci/grade.sh (MLOPS_LABS_LAB, MLOPS_LABS_PATH, MLOPS_LABS_FORMATS, MLOPS_LABS_ONLY,
# MLOPS_LABS_TIME_LIMIT, MLOPS_LABS_OUT), and MLOPS_LABS_GRADER_IMAGE: the image the grading runs in
# (default python:3.11: Debian, git, Python 3.11). Exits with the grader's exit code.
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
image=${MLOPS_LABS_GRADER_IMAGE:-python:3.11}
out=${MLOPS_LABS_OUT:-mlops-labs-report}
submission=${MLOPS_LABS_PATH:-.}
run=${CI_JOB_ID:-$$}
work=/tmp/mlops-labs-ci-$run  # on the engine's host, and at the same path in the grader
name=mlops-labs-grader-$run

say() { echo "mlops-labs ci: $*" >&2; }

if [ -z "${MLOPS_LABS_LAB:-}" ]; then
  say "set the variable MLOPS_LABS_LAB to a lab id, e.g. foundation/01-containerize-model"
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers at ${DOCKER_HOST:-the default socket} (is the docker:dind service running?)"
  exit 3
fi

cleanup() {
  docker exec "$name" rm -rf "$work" >/dev/null 2>&1 || true
  docker rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "starting the grader container ($image) on the engine"
docker run -d --name "$name" --network host \
  -v /var/run/docker.sock:/var/run/docker.sock -v /tmp:/tmp \
  --entrypoint sleep "$image" infinity >/dev/null || exit 3
docker exec "$name" mkdir -p "$work/mlops-labs" "$work/submission" "$work/report" || exit 3
docker cp "$(command -v docker)" "$name:/usr/local/bin/docker" >/dev/null || exit 3
tar -C "$src" --exclude=./.git --exclude=./.venv --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.pytest_cache --exclude='__pycache__' -cf - . |
  docker exec -i "$name" tar -C "$work/mlops-labs" -xf - || exit 3
docker cp "$submission/." "$name:$work/submission" >/dev/null || exit 3

settings=(
  -e "MLOPS_LABS_LAB=$MLOPS_LABS_LAB"
  -e "MLOPS_LABS_PATH=$work/submission"
  -e "MLOPS_LABS_OUT=$work/report"
  -e "MLOPS_LABS_FORMATS=${MLOPS_LABS_FORMATS:-terminal,json,junit}"
  -e "MLOPS_LABS_ONLY=${MLOPS_LABS_ONLY:-}"
  -e "MLOPS_LABS_TIME_LIMIT=${MLOPS_LABS_TIME_LIMIT:-}"
  -e "MLOPS_LABS_REFERENCE=${MLOPS_LABS_REFERENCE:-}"
)
docker exec "${settings[@]}" "$name" bash "$work/mlops-labs/infra/ci/grade.sh" install || exit 3
docker exec "${settings[@]}" "$name" bash "$work/mlops-labs/infra/ci/grade.sh" grade
code=$?

mkdir -p "$out"
docker cp "$name:$work/report/." "$out" >/dev/null || say "no report to copy"
say "report in $out; exit code $code"
exit "$code"
