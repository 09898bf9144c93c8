"""The crontab's job run as cron would run it, in the sandbox, and what to tell the learner when it
does not do its work: what its exit code means, and the end of the log it wrote."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from graders.containers.sandbox import SandboxResult
from graders.labs.retraining_pipeline.crontab import CronJob, job_environment

#: The sandbox user's passwd entry: its name and home folder (the runner image's ``runner``).
USER, HOME = "runner", "/tmp"
JOB_TIMEOUT = 300
LOG_TAIL = 1200
STATE_PATHS = ("data/", "models/", "history.jsonl")
EXIT_MEANINGS = {
    126: "a command was found but cannot be run (not executable, or a folder)",
    127: "command not found",
}
BASH_ONLY = {"[[", "source", "shopt", "declare", "pushd", "popd"}
_NOT_FOUND = (
    re.compile(r"([^\s:'\"‘’]+): (?:command )?not found"),
    re.compile(r"['‘]?([^\s'‘’]+)['’]?: No such file or directory"),
)


@dataclass(frozen=True)
class JobRun:
    """The command line the grader ran for a job, the variables it ran with, and the result."""

    script: str
    environment: dict[str, str]
    done: SandboxResult


def job_script(job: CronJob, project_dir: str) -> tuple[str, dict[str, str]]:
    """The shell step that runs ``job`` as cron does: from HOME (the crontab's, when it exists
    in the sandbox), with only the job's variables, as ``$SHELL -c command``, the text after
    its ``%`` on standard input; PROJECT_DIR is the grader's copy of the project."""
    variables = {**job_environment(job, HOME, USER), "PROJECT_DIR": project_dir}
    shell = variables["SHELL"]
    shell = shell if "/" in shell else f"./{shell}"  # cron execs it as a path, without PATH
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in variables.items())
    script = (
        f"cd {shlex.quote(variables['HOME'])} 2>/dev/null || cd {HOME}; "
        f"printf %s {shlex.quote(job.stdin)} | env -i {assignments} {shlex.quote(shell)} -c "
        f"{shlex.quote(job.command)}"
    )
    return script, variables


def missing_command(text: str) -> str:
    """The command a shell (or ``env``) says it could not find, or ""."""
    for pattern in _NOT_FOUND:
        found = pattern.search(text)
        if found:
            return found[1]
    return ""


def explain(run: JobRun, logs: dict[str, str]) -> str:
    """Why the job did nothing: its exit code and what it means, its output, and the end of every
    log it wrote in the project (``logs``: the tail of each, by path)."""
    done, variables = run.done, run.environment
    code = done.exit_code
    output = (done.stdout + done.stderr).strip()
    said = "\n".join([output, *logs.values()])
    if done.timed_out:
        what = f"it did not finish within {JOB_TIMEOUT // 60} minutes"
    else:
        what = f"it exited {code}"
        meaning = EXIT_MEANINGS.get(code or 0)
        name = missing_command(said)
        if meaning:
            what += f" ({meaning}"
            if name and code == 127:
                what += f": {name!r}, searched in the job's PATH={variables['PATH']}"
            what += ")"
        elif name:
            what += f", and its output says a command was not found: {name!r}"
        if code == 0:
            what += " without deciding the batch (did it run python -m pipeline run, in the "
            what += "foreground, in $PROJECT_DIR?)"
        if name in BASH_ONLY:
            what += (
                f"; {name} is bash, and the job ran with SHELL={variables['SHELL']} (set "
                "SHELL=/bin/bash above the job line, or write it for sh)"
            )
    lines = [what]
    if output:
        lines.append("its output:\n" + indent(output[-LOG_TAIL:]))
    for path, tail in logs.items():
        shown = indent(tail[-LOG_TAIL:]) if tail.strip() else "    (empty)"
        lines.append(f"the end of {path}:\n" + shown)
    if not output and not logs:
        lines.append("it printed nothing and wrote no log in the project")
    return "\n".join(lines)


def written_logs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files of the project that the job made or changed, besides its data, models and history:
    the logs its command redirects to."""
    return sorted(
        path
        for path, digest in after.items()
        if before.get(path) != digest and not path.startswith(STATE_PATHS)
    )


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines())
