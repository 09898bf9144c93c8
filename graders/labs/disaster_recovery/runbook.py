"""Read a RUNBOOK.md: its sections, its targets table, and the tool commands it tells to run.

Only reading: the grader runs the commands itself, in the sandbox (see the lab's README for the
format this expects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SECTIONS = ("Targets", "Backup", "Restore procedure", "Verification")
TARGETS = ("RPO", "RTO", "Schedule", "Retention")
TOOL = "python -m drtool"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
_DURATION = re.compile(
    r"^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)$", re.I
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RETENTION = re.compile(r"^(\d+)\s*(backups?)?$", re.I)
_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = {
    3: "jan feb mar apr may jun jul aug sep oct nov dec".split(),
    4: "sun mon tue wed thu fri sat".split(),
}


@dataclass
class Runbook:
    """What a runbook says, and what it failed to say."""

    sections: dict[str, str] = field(default_factory=dict)  # title (lower case) -> body
    targets: dict[str, str] = field(default_factory=dict)  # RPO, RTO, Schedule, Retention
    problems: list[str] = field(default_factory=list)

    def duration(self, target: str) -> timedelta | None:
        """``RPO`` or ``RTO`` as a duration (None when missing or unreadable)."""
        return parse_duration(self.targets.get(target, ""))

    def retention(self) -> int | None:
        """How many backups retention keeps (None when missing or unreadable)."""
        found = _RETENTION.match(unticked(self.targets.get("Retention", "")))
        return int(found.group(1)) if found and int(found.group(1)) >= 1 else None

    def commands(self, section: str) -> list[str]:
        """The ``python -m drtool`` lines of a section's code blocks (continuations joined)."""
        body = self.sections.get(section.lower(), "")
        lines: list[str] = []
        for block in re.findall(r"```[^\n]*\n(.*?)```", body, re.S):
            joined = re.sub(r"\s*\\\n\s*", " ", block)
            lines += [line.strip() for line in joined.splitlines()]
        return [line for line in lines if line.startswith(TOOL + " ")]


def unticked(value: str) -> str:
    """A table cell without its code ticks and a trailing comment in parentheses."""
    value = re.sub(r"\([^)]*\)\s*$", "", value.strip()).strip()
    return value.replace("`", "").strip()


def parse_duration(value: str) -> timedelta | None:
    """``90 s``, ``2 minutes``, ``1.5 h``, ``1 day`` as a duration; None otherwise."""
    found = _DURATION.match(unticked(value))
    if not found:
        return None
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)[0].lower()])


def read_runbook(text: str) -> Runbook:
    """Split the runbook into sections and read its targets table."""
    book = Runbook()
    title, body = "", list[str]()
    for line in [*text.splitlines(), "# end"]:
        heading = _HEADING.match(line)
        if heading:
            if title:
                book.sections[title] = "\n".join(body)
            title, body = heading.group(2).strip().lower(), []
        else:
            body.append(line)
    missing = [name for name in SECTIONS if name.lower() not in book.sections]
    if missing:
        book.problems.append("missing sections: " + ", ".join(f"## {name}" for name in missing))
    for line in book.sections.get("targets", "").splitlines():
        row = _ROW.match(line)
        if row:
            cells = [cell.strip() for cell in row.group(1).split("|")]
            if len(cells) >= 2 and unticked(cells[0]) in TARGETS:
                book.targets[unticked(cells[0])] = cells[1]
    for target in TARGETS:
        if target not in book.targets:
            book.problems.append(f"the Targets table has no {target} row")
    for target in ("RPO", "RTO"):
        if target in book.targets and book.duration(target) is None:
            book.problems.append(f"{target} {book.targets[target]!r} is not a duration (2 minutes)")
    if "Retention" in book.targets and book.retention() is None:
        book.problems.append(f"Retention {book.targets['Retention']!r} is not a number of backups")
    if "Schedule" in book.targets:
        book.problems += schedule_problems(book)
    book.problems += retention_problems(book)
    return book


def retention_problems(book: Runbook) -> list[str]:
    """Every ``prune`` the runbook runs keeps as many backups as its Retention target says."""
    keep, problems = book.retention(), []
    for section in book.sections:
        for command in book.commands(section):
            words = command.replace("=", " ").split()
            if keep is None or "prune" not in words or "--keep" not in words:
                continue
            position = words.index("--keep") + 1
            kept = words[position] if position < len(words) else ""
            if kept != str(keep):
                problems.append(
                    f"`{command[:120]}` keeps {kept or 'no number of'} backups, but the "
                    f"Retention target says {keep}: the targets and the commands must agree"
                )
    return problems


def schedule_problems(book: Runbook) -> list[str]:
    """The schedule must be a cron expression whose longest gap the RPO covers."""
    schedule = unticked(book.targets["Schedule"])
    try:
        gap = longest_gap(schedule)
    except ValueError as error:
        return [f"Schedule {schedule!r} is not a five-field cron expression ({error})"]
    rpo = book.duration("RPO")
    if rpo is not None and rpo < gap:
        return [f"RPO {book.targets['RPO']!r} is shorter than the {gap} between scheduled backups"]
    return []


def expand(field_text: str, position: int) -> set[int]:
    """The values one cron field matches (``*``, lists, ranges, steps, names)."""
    low, high = _FIELDS[position]
    names = _NAMES.get(position, [])
    offset = 1 if position == 3 else 0

    def number(token: str) -> int:
        if token.lower()[:3] in names:
            return names.index(token.lower()[:3]) + offset
        if not token.isdigit() or not low <= int(token) <= high:
            raise ValueError(f"{token!r} is out of range")
        return int(token)

    values: set[int] = set()
    for part in field_text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            start, stop = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, stop = number(first), number(last)
        else:
            start = stop = number(span)
            if step:
                stop = high
        every = int(step) if step else 1
        if every < 1 or start > stop:
            raise ValueError(f"{part!r} is not a range")
        values |= set(range(start, stop + 1, every))
    return {0 if position == 4 and value == 7 else value for value in values}


def longest_gap(schedule: str) -> timedelta:
    """The longest time between two runs of a cron schedule (over 400 days from 2027-01-01)."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields")
    minutes, hours, days, months, weekdays = (expand(text, i) for i, text in enumerate(fields))
    start = datetime(2027, 1, 1, tzinfo=UTC)
    times = []
    for offset in range(400):
        day = start + timedelta(days=offset)
        by_month_day, by_weekday = day.day in days, (day.isoweekday() % 7) in weekdays
        restricted = fields[2] != "*" and fields[4] != "*"
        if day.month in months and (
            (by_month_day or by_weekday) if restricted else (by_month_day and by_weekday)
        ):
            times += [day.replace(hour=h, minute=m) for h in sorted(hours) for m in sorted(minutes)]
    if len(times) < 2:
        raise ValueError("it runs less than twice a year")
    return max(later - earlier for earlier, later in zip(times, times[1:], strict=False))
