#!/usr/bin/env bash
# The steps of the mlops-labs GitHub Action (action.yml) and GitLab template
# (infra/ci/gitlab/mlops-labs.gitlab-ci.yml), as one script that also runs on any machine:
#
#   grade.sh install      install mlops-labs from this checkout (skipped when it is installed
#                         from here already), editable: the graders find labs/ and infra/ beside
#                         the graders package, so the checkout must stay where it is
#   grade.sh needs-kind   print kind=true|false: whether the lab's lab.toml has [requires] kind
#                         (also written to $GITHUB_OUTPUT when that is set)
#   grade.sh grade        mlops-labs grade LAB PATH --format FORMATS --out OUT [--only ...]
#                         [--time-limit ...]; exits with the grader's exit code: 0 full marks (with
#                         --only: every check it ran passed), 1 not full marks, 2 bad input,
#                         3 grader or environment error, 130 interrupted
#
# Settings, from the environment (the action maps its inputs to them):
#   MLOPS_LABS_LAB         lab id or unique slug (required by needs-kind and grade)
#   MLOPS_LABS_PATH        the submission folder (default .)
#   MLOPS_LABS_REFERENCE   1: grade the lab's reference solution instead of MLOPS_LABS_PATH
#   MLOPS_LABS_FORMATS     report formats (default terminal,github,json,junit); under GitHub Actions
#                          (GITHUB_STEP_SUMMARY set) github is added when missing
#   MLOPS_LABS_ONLY        criteria or check ids for grade --only (default: grade everything)
#   MLOPS_LABS_TIME_LIMIT  seconds (default: the lab's own limit)
#   MLOPS_LABS_OUT         the report folder (default mlops-labs-report)
#   MLOPS_LABS_PYTHON      the Python that installs and runs mlops-labs (default python3)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${MLOPS_LABS_PYTHON:-python3}
lab=${MLOPS_LABS_LAB:-}
out=${MLOPS_LABS_OUT:-mlops-labs-report}

say() { echo "mlops-labs ci: $*" >&2; }

need_lab() {
  if [ -z "$lab" ]; then
    say "set MLOPS_LABS_LAB (the action's input 'lab') to a lab id, e.g. foundation/01-containerize-model"
    exit 2
  fi
}

installed_here() {
  # True when the graders package that $python imports is this checkout's.
  "$python" - "$here" <<'PY' 2>/dev/null
import sys
from pathlib import Path

try:
    import graders
except ImportError:
    sys.exit(1)
sys.exit(0 if Path(graders.__file__).resolve().parent.parent == Path(sys.argv[1]) else 1)
PY
}

do_install() {
  if installed_here; then
    say "install skipped: mlops-labs is installed from $here already"
    return 0
  fi
  say "install: pip install -e $here"
  "$python" -m pip install --quiet --disable-pip-version-check -e "$here" || exit 3
  say "install done: mlops-labs $("$python" -c 'import graders; print(graders.__version__)')"
}

do_needs_kind() {
  need_lab
  local kind
  kind=$("$python" -c 'import sys
from graders.catalogue import find_lab
from graders.errors import BadInput, GraderError
try:
    print(str(find_lab(sys.argv[1]).requires.kind).lower())
except (BadInput, GraderError) as exc:
    sys.exit(f"mlops-labs: {exc}")' "$lab") || exit 2
  echo "kind=$kind"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "kind=$kind" >>"$GITHUB_OUTPUT"; fi
}

do_grade() {
  need_lab
  local formats=${MLOPS_LABS_FORMATS:-terminal,github,json,junit}
  formats=${formats// /}
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [[ ",$formats," != *",github,"* ]]; then
    formats="$formats,github"  # the github format appends the report to the step summary
  fi
  local args=(grade "$lab")
  if [ "${MLOPS_LABS_REFERENCE:-}" = 1 ]; then
    args+=(--reference)
  else
    args+=("${MLOPS_LABS_PATH:-.}")
  fi
  args+=(--format "$formats" --out "$out")
  if [ -n "${MLOPS_LABS_ONLY:-}" ]; then args+=(--only "$MLOPS_LABS_ONLY"); fi
  if [ -n "${MLOPS_LABS_TIME_LIMIT:-}" ]; then args+=(--time-limit "$MLOPS_LABS_TIME_LIMIT"); fi

  local before=0
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$GITHUB_STEP_SUMMARY" ]; then
    before=$(wc -c <"$GITHUB_STEP_SUMMARY")
  fi
  mkdir -p "$out"
  say "mlops-labs ${args[*]}"
  "$python" -m graders.cli "${args[@]}"
  local code=$?
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "exit-code=$code" >>"$GITHUB_OUTPUT"; fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    local after=0
    if [ -f "$GITHUB_STEP_SUMMARY" ]; then after=$(wc -c <"$GITHUB_STEP_SUMMARY"); fi
    if [ "$after" -le "$before" ]; then  # no report: the grading stopped before it could write one
      {
        echo "## mlops-labs: $lab"
        echo
        echo "**No report: \`mlops-labs grade\` exited $code ($(meaning "$code")).** The job's log says why."
      } >>"$GITHUB_STEP_SUMMARY"
    fi
  fi
  say "exit code $code: $(meaning "$code")"
  exit "$code"
}

meaning() {
  case $1 in
    0) echo "full marks" ;;
    1) echo "not full marks" ;;
    2) echo "bad input" ;;
    3) echo "grader or environment error" ;;
    130) echo "interrupted" ;;
    *) echo "unexpected" ;;
  esac
}

case ${1:-} in
  install) do_install ;;
  needs-kind) do_needs_kind ;;
  grade) do_grade ;;
  *)
    say "usage: $0 install | needs-kind | grade"
    exit 2
    ;;
esac
