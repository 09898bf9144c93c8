"""Read a Grafana dashboard's JSON without Grafana: its panels and their PromQL queries.

Grafana fills in its variables before a query reaches Prometheus; ``templating`` does the same,
so that each query runs as it would from Grafana. ``metric_names`` says which metrics a query
selects, to name the one missing when a query returns nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                "and", "or", "unless", "inf", "nan", "atan2"}  # fmt: skip
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
NOT_QUERIED = {"row", "text", "news", "dashlist", "annolist"}


@dataclass(frozen=True)
class Panel:
    """One panel: its title and type, and the expressions of its visible targets."""

    title: str
    kind: str
    exprs: tuple[str, ...]


def load_dashboard(path: Path) -> dict[str, Any]:
    """The dashboard model (unwrapped from an API export's ``dashboard``); ValueError if it is
    not one."""
    if not path.is_file():
        raise ValueError(f"there is no {path.name}")
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace")[:5_000_000])
    except ValueError as problem:
        raise ValueError(f"{path.name} is not valid JSON: {problem}") from None
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict):
        data = data["dashboard"]
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        raise ValueError(f"{path.name} has no list of panels")
    return data


def panels(dashboard: dict[str, Any]) -> list[Panel]:
    """Every panel, rows' nested panels included, rows and text panels left out."""
    found = []
    stack = list(reversed(dashboard.get("panels") or []))
    while stack:
        panel = stack.pop()
        if not isinstance(panel, dict):
            continue
        stack += reversed(panel.get("panels") or [])
        if panel.get("type") in NOT_QUERIED:
            continue
        exprs = tuple(
            str(target["expr"])
            for target in panel.get("targets") or []
            if isinstance(target, dict) and target.get("expr") and not target.get("hide")
        )
        found.append(Panel(str(panel.get("title") or "(untitled)"), str(panel.get("type")), exprs))
    return found


def metric_names(expr: str) -> list[str]:
    """The metric names ``expr`` selects (outside strings, label matchers, label lists, ranges;
    not functions, keywords or numbers), in order, once each."""
    text = _LABEL_LIST.sub(" ", _STRING.sub('""', expr))
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    names: list[str] = []
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", text):
        name, before = match.group(), text[: match.start()]
        if name.lower() in _NOT_METRICS or re.search(r"[\w.$]$", before):
            continue
        if not text[match.end() :].lstrip().startswith("(") and name not in names:
            names.append(name)
    return names


def names_metric(expr: str, metric: str) -> bool:
    """True when ``expr`` selects ``metric`` (or one of its ``_bucket/_sum/_count/_total``
    series) outside a string."""
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return re.search(rf"\b{metric}(_bucket|_sum|_count|_total)?\b", outside_strings) is not None


def why_no_data(expr: str, exported: set[str]) -> str:
    """Why a query that ran returned nothing: the metric it looked for that Prometheus does not
    have, or that its metrics exist and a filter dropped every series."""
    names = metric_names(expr)
    absent = [name for name in names if name not in exported]
    if absent:
        return f"Prometheus has no series of {', '.join(absent[:3])}"
    if names:
        return f"{', '.join(names[:3])} has series: a label matcher or filter drops them all"
    return "it selects no metric"
