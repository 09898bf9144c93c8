"""Read a crontab as cron does (cronie, Debian's cron): environment lines, and jobs with five time
fields or a macro, then a command.

Only reading: the grader runs a job's command itself, in the sandbox, the way cron would run it
(``job_environment`` says with which variables). The rules followed:

- fields are separated by any run of spaces or tabs, after a macro too (``@daily<TAB>cmd``);
- ``NAME = value`` lines (spaces around ``=`` allowed) set a variable for the jobs **below**
  them. A value quoted with ``'`` or ``"`` loses its quotes and keeps its spaces; nothing may
  follow the closing quote. An unquoted value is taken literally (no ``$`` expansion) with its
  trailing blanks dropped. A line that looks like one but breaks these rules is read as a job,
  and refused;
- the job runs as ``$SHELL -c command`` with SHELL=/bin/sh, PATH=/usr/bin:/bin, HOME and LOGNAME
  from the user's passwd entry unless the crontab sets SHELL, PATH or HOME (LOGNAME and USER it
  cannot change); MAILTO and CRON_TZ are accepted (mail and the time zone the fields are read in
  change nothing about the run itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
FIELDS: tuple[
    tuple[str, int, int, list[str]], ...
] = (  # name, lowest, highest, names (first name = lowest value)
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
# cronie's load_env: a name (quoted, or up to a blank or "="), "=", a value (quoted: nothing but
# blanks after its closing quote; unquoted: the rest of the line, trailing blanks dropped).
_ENVIRONMENT = re.compile(
    r"""\s*(?:"(?P<dname>[^"=]+)"|'(?P<sname>[^'=]+)'|(?P<name>[^\s="'][^\s=]*))
    \s*=\s*
    (?:"(?P<dvalue>[^"]*)"\s*|'(?P<svalue>[^']*)'\s*|(?P<value>(?!["'])[^\n]*?)\s*)""",
    re.VERBOSE,
)
DEFAULTS = {"SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
FORCED = ("LOGNAME", "USER")  # set from the passwd entry, whatever the crontab says


@dataclass(frozen=True)
class CronJob:
    """One job line: when (the five fields or a macro), the command as cron hands it to the shell,
    its standard input (after a ``%``), and the variables the crontab set above it."""

    schedule: str
    command: str
    stdin: str
    line: int
    environment: dict[str, str] = field(default_factory=dict)


def parse_crontab(text: str) -> tuple[dict[str, str], list[CronJob]]:
    """Every variable the crontab sets and its jobs; ValueError names the first line cron
    rejects."""
    environment: dict[str, str] = {}
    jobs = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = environment_line(line)
        if assignment:
            environment[assignment[0]] = assignment[1]
            continue
        schedule, command = job_fields(line, number)
        command, stdin = split_percent(command)
        if not command:
            raise ValueError(f"line {number}: the job has no command")
        jobs.append(CronJob(schedule, command, stdin, number, dict(environment)))
    return environment, jobs


def environment_line(line: str) -> tuple[str, str] | None:
    """``(name, value)`` when cron reads ``line`` as a variable setting, else None."""
    found = _ENVIRONMENT.fullmatch(line)
    if not found:
        return None
    name = found["dname"] or found["sname"] or found["name"]
    value = next((v for v in found.group("dvalue", "svalue", "value") if v is not None), "")
    return name, value


def job_fields(line: str, number: int) -> tuple[str, str]:
    """The schedule and the command of a job line (any blanks between fields)."""
    first = line.split(None, 1)
    if first[0] == "@reboot":
        raise ValueError(f"line {number}: @reboot runs once at boot, it is not a schedule")
    if line.startswith("@"):
        if first[0] not in MACROS:
            raise ValueError(f"line {number}: unknown schedule {first[0]!r}")
        return first[0], first[1] if len(first) > 1 else ""
    if "=" in first[0]:
        raise ValueError(
            f"line {number}: {first[0][:60]!r}… is neither a job nor a NAME=value line cron "
            'accepts (a quoted value must end the line: NAME="a b")'
        )
    parts = line.split(None, 5)
    if len(parts) < 6:
        raise ValueError(f"line {number}: a job needs five time fields and a command")
    for (name, low, high, names), value in zip(FIELDS, parts[:5], strict=True):
        check_field(value, name, low, high, names, number)
    return " ".join(parts[:5]), parts[5]


def job_environment(job: CronJob, home: str, user: str) -> dict[str, str]:
    """The variables cron runs ``job`` with: its defaults, the crontab's lines above the job,
    then LOGNAME and USER, which the crontab cannot change."""
    forced = dict.fromkeys(FORCED, user)
    return {**DEFAULTS, "HOME": home, **job.environment, **forced}


def split_percent(command: str) -> tuple[str, str]:
    """cron's ``%``: the first unescaped one ends the command; the rest is its input, with every
    further ``%`` a newline. ``\\%`` is a literal percent sign."""
    parts = re.split(r"(?<!\\)%", command)
    head = parts[0].replace("\\%", "%")
    return head.strip(), "\n".join(parts[1:]).replace("\\%", "%")


def check_field(value: str, name: str, low: int, high: int, names: list[str], line: int) -> None:
    """Raise ValueError when ``value`` is not a valid cron field."""
    for item in value.split(","):
        span, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"line {line}: the {name} field has a bad step {item!r}")
        if span == "*":
            continue
        bounds = span.split("-")
        if len(bounds) > 2 or (step and len(bounds) == 1 and not span):
            raise ValueError(f"line {line}: the {name} field {value!r} is not valid")
        numbers = [number_of(bound, name, low, high, names, line) for bound in bounds]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise ValueError(f"line {line}: the {name} range {span!r} runs backwards")


def number_of(token: str, name: str, low: int, high: int, names: list[str], line: int) -> int:
    """The number a field token stands for (digits, or a month or day name)."""
    lowered = token.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"line {line}: {token!r} is not a valid {name} ({low}-{high})")
    return int(token)
