"""Read a crontab as cron does: environment lines, and jobs with five time fields and a command.

Only reading: the grader runs a job's command itself, in the sandbox, the way cron would run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_ENVIRONMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


@dataclass(frozen=True)
class CronJob:
    """One job line: when (the five fields or a macro) and the command, as cron hands it to sh."""

    schedule: str
    command: str
    stdin: str
    line: int


def parse_crontab(text: str) -> tuple[dict[str, str], list[CronJob]]:
    """The environment a crontab sets and its jobs; ValueError names the first line cron rejects."""
    environment: dict[str, str] = {}
    jobs = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = _ENVIRONMENT.match(line)
        if assignment and not line.startswith("@"):
            environment[assignment[1]] = unquote(assignment[2].strip())
            continue
        if line.split()[0] == "@reboot":
            raise ValueError(f"line {number}: @reboot runs once at boot, it is not a schedule")
        if line.startswith("@"):
            macro, _, command = line.partition(" ")
            if macro not in MACROS:
                raise ValueError(f"line {number}: unknown schedule {macro!r}")
            schedule = macro
        else:
            parts = line.split(None, 5)
            if len(parts) < 6:
                raise ValueError(f"line {number}: a job needs five time fields and a command")
            for (name, low, high, names), value in zip(FIELDS, parts[:5], strict=True):
                check_field(value, name, low, high, names, number)
            schedule, command = " ".join(parts[:5]), parts[5]
        command, stdin = split_percent(command.strip())
        if not command:
            raise ValueError(f"line {number}: the job has no command")
        jobs.append(CronJob(schedule, command, stdin, number))
    return environment, jobs


def unquote(value: str) -> str:
    """cron strips one pair of matching quotes around an environment value."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


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
