"""Grafana's template variables, filled in as Grafana fills them before a query reaches Prometheus.

A variable takes its saved ``current`` value; without one, the value Grafana would select when the
dashboard loads: a constant its ``query``, a textbox its default (``query``), a custom or interval
variable its first option, a query variable its first value (asked of Prometheus when the
dashboard saved no options), and any variable with ``includeAll`` "All". "All" is the custom
``allValue`` as written, else every option, as a regex alternation. References are ``$var``,
``${var}``, ``[[var]]`` and ``${var:format}``; without a format, the Prometheus data source's
own interpolation applies (values regex-escaped and joined as ``(a|b)`` for a multi-value or
include-all variable). Unknown variables stay as written, as in Grafana.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
AUTO_INTERVAL = GRAFANA_VARIABLES["__interval"]  # an interval variable's "auto" option
ALL = "$__all"
# Grafana's own variable pattern: $var, [[var]] / [[var:format]], ${var} / ${var.path:format}
REFERENCE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.[^:^}]+)?(?::([^}]+))?\}")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$", re.S)
_METRICS = re.compile(r"^\s*metrics\((.*)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)
MAX_OPTIONS = 200


def _regex_escape(value: str) -> str:
    """Grafana's ``regex`` format escape (JavaScript's special characters, one backslash)."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


def _prometheus_regular(value: str) -> str:
    """The Prometheus data source's escape of a single-value variable."""
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def _prometheus_regex(value: str) -> str:
    """The Prometheus data source's escape of one value of a multi-value variable (a regex in a
    PromQL string: two backslashes before a metacharacter)."""
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value.replace("\\", "\\\\\\\\"))


def custom_options(query: str) -> list[str]:
    """A custom variable's option values: comma-separated, ``\\,`` a comma, ``text : value``."""
    values = []
    for text in re.findall(r"(?:\\,|[^,])+", query):
        text = text.replace("\\,", ",")
        pair = re.match(r"^\s*(.+)\s:\s(.+)$", text, re.S)
        values.append((pair.group(2) if pair else text).strip())
    return values


@dataclass
class Variable:
    """One template variable: its selection, or what must be asked of Prometheus first."""

    name: str
    kind: str
    values: list[str] = field(default_factory=list)  # the selected values
    options: list[str] | None = None  # every value, when known
    is_all: bool = False
    all_value: str | None = None
    regex_list: bool = False  # multi-value or include-all: the data source regex-escapes
    query: str = ""  # a query variable's query, when its values must be looked up
    regex: str = ""
    sort: int = 0

    @property
    def pending(self) -> bool:
        """True while its values are to be asked of Prometheus."""
        return bool(self.query)

    def formatted(self, fmt: str | None, fill: Any) -> str:
        """The value as ``${name:fmt}`` writes it (``fill`` interpolates a custom all value)."""
        values = self.values
        if self.is_all:
            if self.all_value is not None and fmt not in ("text", "percentencode"):
                return str(fill(self.all_value))
            if not self.options:
                return ".*"  # every value of a query nobody could run: match them all
            values = self.options
        return _format(values, fmt, self.regex_list, self.name)


def _format(values: list[str], fmt: str | None, regex_list: bool, name: str) -> str:
    """``values`` in Grafana's format ``fmt`` (None: the Prometheus data source's default)."""
    one = values[0] if values else ""
    if fmt is None:
        if not regex_list:
            return _prometheus_regular(one)
        escaped = [_prometheus_regex(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    several = len(values) > 1
    formats = {
        "regex": lambda: (
            ("(" + "|".join(map(_regex_escape, values)) + ")") if several else _regex_escape(one)
        ),
        "pipe": lambda: "|".join(values),
        "csv": lambda: ",".join(values),
        "raw": lambda: ",".join(values),
        "text": lambda: " + ".join(values),
        "glob": lambda: "{" + ",".join(values) + "}" if several else one,
        "json": lambda: json.dumps(values if several else one),
        "singlequote": lambda: ",".join("'" + v.replace("'", "\\'") + "'" for v in values),
        "doublequote": lambda: ",".join('"' + v.replace('"', '\\"') + '"' for v in values),
        "sqlstring": lambda: ",".join("'" + v.replace("'", "''") + "'" for v in values),
        "lucene": lambda: (
            "(" + " OR ".join(json.dumps(v) for v in values) + ")"
            if several
            else json.dumps(one)[1:-1]
        ),
        "percentencode": lambda: urllib.parse.quote(",".join(values), safe=""),
        "queryparam": lambda: "&".join(f"var-{name}={urllib.parse.quote(v)}" for v in values),
        "distributed": lambda: ",".join([one] + [f"{name}={v}" for v in values[1:]]),
    }
    chosen = formats.get(fmt.split(":")[0])
    return chosen() if chosen else _format(values, None, regex_list, name)


def read(dashboard: dict[str, Any]) -> dict[str, Variable]:
    """The dashboard's template variables by name, each with the value Grafana would select."""
    variables: dict[str, Variable] = {}
    for raw in (dashboard.get("templating") or {}).get("list") or []:
        if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
            variables[raw["name"]] = _variable(raw)
    return variables


def _text(value: Any) -> str:
    return value.get("query") or "" if isinstance(value, dict) else str(value or "")


def _variable(raw: dict[str, Any]) -> Variable:
    kind, query = str(raw.get("type") or "query"), _text(raw.get("query"))
    include_all = bool(raw.get("includeAll"))
    allv = raw.get("allValue")
    found = Variable(
        str(raw["name"]), kind, all_value=str(allv) if allv not in (None, "") else None,
        regex_list=bool(raw.get("multi")) or include_all,
    )  # fmt: skip
    current: dict[str, Any] = raw["current"] if isinstance(raw.get("current"), dict) else {}
    value = current.get("value")
    if kind == "constant":
        found.values = [query]
        return found
    saved = [
        str(o.get("value"))
        for o in raw.get("options") or []
        if isinstance(o, dict) and o.get("value") not in (None, ALL)
    ]
    if kind == "custom":
        saved = custom_options(query)
    elif kind == "interval":
        saved = [m.group(0).strip() for m in re.finditer(r"([\"'])(.*?)\1|\w+", query)]
        saved = ([AUTO_INTERVAL] if raw.get("auto") else []) + saved
    found.options = saved[:MAX_OPTIONS] or None
    if value not in (None, "", []):
        values = [str(v) for v in (value if isinstance(value, list) else [value])]
        if ALL in values or (include_all and current.get("text") in ("All", ["All"])):
            found.is_all = True
        found.values = [AUTO_INTERVAL if v.startswith("$__auto_interval") else v for v in values]
    elif kind == "textbox":
        found.values = [query]
    elif include_all and kind in ("query", "custom"):
        found.is_all = True
    elif saved:
        found.values = [saved[0]]
    unknown = found.all_value is None if found.is_all else not found.values
    if kind == "query" and unknown and not saved and query.strip():
        found.query = query  # Grafana asks Prometheus for the options on load
        found.regex, found.sort = str(raw.get("regex") or ""), int(raw.get("sort") or 0)
    return found


def fill(expr: str, variables: dict[str, Variable]) -> str:
    """``expr`` with Grafana's built-in variables and the template variables filled in."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        if name in GRAFANA_VARIABLES:
            return GRAFANA_VARIABLES[name]
        variable = variables.get(name)
        if variable is None or variable.pending:
            return match.group(0)
        return variable.formatted(fmt, lambda text: fill(text, {}))

    return REFERENCE.sub(replace, expr)


def lookup(variable: Variable, variables: dict[str, Variable]) -> str | None:
    """The PromQL query whose answer gives a query variable's options (None: not one Grafana's
    Prometheus data source knows, or it still refers to a pending variable)."""
    query = fill(variable.query, variables)
    if REFERENCE.search(query):
        return None
    if match := _LABEL_VALUES.match(query):
        selector, label = match.group(1) or f'{{{match.group(2)}!=""}}', match.group(2)
        return f"group by ({label}) ({selector})"
    if match := _METRICS.match(query):
        pattern = match.group(1).strip().replace("\\", "\\\\").replace('"', '\\"')
        return f'group by (__name__) ({{__name__=~"{pattern}"}})'
    if match := _QUERY_RESULT.match(query):
        return match.group(1)
    return None


def resolve(variable: Variable, rows: list[dict[str, Any]]) -> None:
    """Set a query variable's options and selection from the rows Prometheus answered
    (``{"metric": labels, "value": [time, value]}``), through its regex and sort."""
    match = _LABEL_VALUES.match(variable.query) or _METRICS.match(variable.query)
    label = (match.group(2) if match and match.re is _LABEL_VALUES else "__name__") if match else ""
    texts = []
    for row in rows:
        labels = row.get("metric") or {}
        if label:
            texts.append(str(labels.get(label, "")))
        else:
            inner = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
            value = (row.get("value") or ["", ""])[1:]
            texts.append(f"{labels.get('__name__', '')}{{{inner}}} {value[0] if value else ''}")
    options = _through(texts, variable.regex, variable.sort)
    variable.query, variable.options = "", options
    if not variable.is_all:
        variable.values = options[:1]


def _number(text: str) -> int:
    """The first whole number in ``text`` (-1: none), as Grafana's numerical sort reads it."""
    found = re.search(r"\d+", text)
    return int(found.group()) if found else -1


def _through(texts: list[str], regex: str, sort: int) -> list[str]:
    """Grafana's regex (a capture group or ``value`` group picks the value) and sort."""
    pattern = None
    if regex:
        body = re.match(r"^/(.*)/([gimsuy]*)$", regex, re.S)
        source = body.group(1) if body else regex
        flags = re.I if body and "i" in body.group(2) else 0
        try:
            pattern = re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", source), flags)
        except re.error:
            pattern = None
    values: list[str] = []
    for text in texts[: MAX_OPTIONS * 5]:
        if pattern is not None:
            found = pattern.search(text[:1000])
            if not found:
                continue
            named = found.groupdict()
            text = named.get("value") or (found.group(1) if found.groups() else text)
        if text and text not in values:
            values.append(text)
    if sort in (1, 2):
        values.sort(reverse=sort == 2)
    elif sort in (3, 4):
        values.sort(key=_number, reverse=sort == 4)
    elif sort in (5, 6, 7, 8):
        values.sort(key=str.lower, reverse=sort in (6, 8))
    return values[:MAX_OPTIONS]


def settle(
    variables: dict[str, Variable], ask: Callable[[list[str]], list[list[dict[str, Any]]]]
) -> None:
    """Look up every pending query variable, in rounds (a variable may refer to another), with
    ``ask`` (queries -> each one's rows, empty when it failed); a query Grafana's Prometheus data
    source would not know, or one left waiting on another, matches every value (``.*``)."""
    for _ in range(len(variables)):
        pending = {
            name: query
            for name, variable in variables.items()
            if variable.pending and (query := lookup(variable, variables))
        }
        if not pending:
            break
        for name, rows in zip(pending, ask(list(pending.values())), strict=True):
            resolve(variables[name], rows)
    for variable in variables.values():
        if variable.pending:
            variable.query, variable.is_all, variable.all_value = "", True, None
