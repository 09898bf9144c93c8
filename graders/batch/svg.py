"""Inline SVG charts for the class report: plain markup, no script, no external resource.

Every label is escaped here (a label may be a learner's submission name); colours come from CSS
classes the page's own style sheet defines (``bar``, ``passed``, ``failed``…).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: Pixels: the plotting area of a histogram, and the height of one row of horizontal bars.
HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT = 640, 150
ROW_HEIGHT = 18


def _number(value: float) -> str:
    """A coordinate without noise: ``12.0`` → ``"12"``, ``1/3`` → ``"0.33"``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def histogram(counts: Sequence[int], labels: Sequence[str], *, title: str) -> str:
    """A vertical bar chart (class ``histogram``): one bar per count, its count above it and its
    label below."""
    top, bottom, left = 20, 40, 30
    width, height = HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT
    tallest = max(counts, default=0) or 1
    slot = (width - left) / max(len(counts), 1)
    parts = [
        f'<svg class="chart histogram" role="img" '
        f'width="{width}" height="{height + top + bottom}" '
        f'viewBox="0 0 {width} {height + top + bottom}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + height}" x2="{width}" y2="{top + height}"/>',
    ]
    for index, (count, label) in enumerate(zip(counts, labels, strict=True)):
        bar = height * count / tallest
        x = left + index * slot
        middle = _number(x + slot / 2)
        parts += [
            f'<rect class="bar" x="{_number(x + 3)}" y="{_number(top + height - bar)}" '
            f'width="{_number(slot - 6)}" height="{_number(bar)}">'
            f"<title>{escape(label)}: {count}</title></rect>",
            f'<text class="count" x="{middle}" y="{_number(top + height - bar - 4)}" '
            f'text-anchor="middle">{count}</text>',
            f'<text class="label" x="{middle}" y="{top + height + 16}" '
            f'text-anchor="middle">{escape(label)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar(parts: Sequence[tuple[str, int]], *, label: str, width: int = 150) -> str:
    """One horizontal bar split in proportion to ``parts`` (CSS class, count); the label is
    the bar's tooltip and accessible name."""
    total = sum(count for _, count in parts) or 1
    height = 14
    pieces = [
        f'<svg class="bar-row" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(label)}</title>",
        f'<rect class="track" x="0" y="0" width="{width}" height="{height}"/>',
    ]
    x = 0.0
    for css, count in parts:
        if count <= 0:
            continue
        size = width * count / total
        pieces.append(
            f'<rect class="{escape(css)}" x="{_number(x)}" y="0" '
            f'width="{_number(size)}" height="{height}"/>'
        )
        x += size
    pieces.append("</svg>")
    return "".join(pieces)


def horizontal_bars(rows: Sequence[tuple[str, float, str]], *, title: str, unit: str) -> str:
    """A chart (class ``bars``) of one horizontal bar per row (label, value, CSS class), the label
    on the left and the value, with ``unit``, at the end of the bar."""
    label_width, value_width, width = 200, 70, HISTOGRAM_WIDTH + 140
    longest = max((value for _, value, _ in rows), default=0.0) or 1.0
    span = width - label_width - value_width
    height = ROW_HEIGHT * len(rows) + 4
    parts = [
        f'<svg class="chart bars" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value, css) in enumerate(rows):
        y = index * ROW_HEIGHT + 2
        size = max(span * value / longest, 1.0)
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts += [
            f'<text class="label" x="{label_width - 8}" y="{y + 12}" '
            f'text-anchor="end">{escape(shown)}</text>',
            f'<rect class="{escape(css)}" x="{label_width}" y="{y}" width="{_number(size)}" '
            f'height="{ROW_HEIGHT - 5}"><title>{escape(label)}: {_number(value)} {unit}</title>'
            "</rect>",
            f'<text class="count" x="{_number(label_width + size + 6)}" y="{y + 12}">'
            f"{_number(value)} {escape(unit)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)
