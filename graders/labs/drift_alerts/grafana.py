"""Read a Grafana dashboard's JSON without Grafana: its panels and their PromQL queries.

Grafana fills in its own variables before a query reaches Prometheus; ``runnable`` does the same
with fixed values (``$__rate_interval`` as ``1m``...) and the dashboard's template variables with
their current value (``All`` as ``.*``), so each query can be run as it would be on a live
Prometheus.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
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


def runnable(expr: str, dashboard: dict[str, Any]) -> str:
    """``expr`` with Grafana's variables and the dashboard's template variables filled in."""
    values = dict(GRAFANA_VARIABLES)
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if isinstance(variable, dict) and variable.get("name"):
            current = (variable.get("current") or {}).get("value", "")
            if isinstance(current, list):
                current = "|".join(map(str, current))
            values[str(variable["name"])] = ".*" if current in ("$__all", "All") else str(current)

    def fill(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(fill, expr)


def names_metric(expr: str, metric: str) -> bool:
    """True when ``expr`` selects ``metric`` (or one of its ``_bucket/_sum/_count/_total``
    series) outside a string."""
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return re.search(rf"\b{metric}(_bucket|_sum|_count|_total)?\b", outside_strings) is not None
