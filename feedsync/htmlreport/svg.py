"""Inline SVG charts: score donut, bars, trend lines. Numbers in, markup out.

Only numbers and fixed class names reach the markup here, never product text; labels
that could carry text are escaped by the caller's ``esc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from html import escape


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def donut(score: int | None, size: int = 64, label: str = "quality score") -> str:
    """A ring filled to ``score`` of 100, the number in the middle; a dash when None."""
    radius = size / 2 - 5
    circumference = 2 * math.pi * radius
    centre = _num(size / 2)
    parts = [f'<svg class="donut" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
             f'role="img" aria-label="{escape(label)}: {score if score is not None else "none"}">',
             f'<circle class="track" cx="{centre}" cy="{centre}" r="{_num(radius)}" fill="none" '
             f'stroke-width="8"/>']
    if score is None:
        parts.append(f'<text class="none" x="{centre}" y="{centre}" text-anchor="middle" '
                     f'dominant-baseline="central" font-size="{_num(size / 3.2)}">–</text>')
    else:
        grade = "good" if score >= 85 else "fair" if score >= 60 else "poor"
        dash = circumference * max(0, min(score, 100)) / 100
        parts.append(
            f'<circle class="arc {grade}" cx="{centre}" cy="{centre}" r="{_num(radius)}" '
            f'fill="none" stroke-width="8" stroke-linecap="round" '
            f'stroke-dasharray="{_num(dash)} {_num(circumference)}" '
            f'transform="rotate(-90 {centre} {centre})"/>')
        parts.append(f'<text x="{centre}" y="{centre}" text-anchor="middle" '
                     f'dominant-baseline="central" font-size="{_num(size / 3.4)}" '
                     f'data-score="{score}">{score}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar(share: Fraction | float, css: str = "") -> str:
    """A horizontal bar filled to ``share`` (0..1)."""
    width = max(0.0, min(float(share), 1.0)) * 100
    extra = f" {css}" if css else ""
    return ('<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            '<rect class="track" width="100" height="10" rx="2"/>'
            f'<rect class="fill{extra}" width="{_num(width)}" height="10" rx="2"/></svg>')


def _points(values: Sequence[int], width: float, height: float, top: int,
            pad: float) -> list[tuple[float, float]]:
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    scale = (height - 2 * pad) / max(top, 1)
    return [(pad + i * step, height - pad - v * scale) for i, v in enumerate(values)]


def _polyline(points: list[tuple[float, float]], css: str) -> str:
    coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    return f'<polyline class="{css}" points="{coords}"/>'


def sparkline(written: Sequence[int], rejected: Sequence[int], width: int = 96,
              height: int = 26) -> str:
    """Written (green) and rejected (red) over the runs, oldest first."""
    if len(written) < 2:
        return ""
    top = max([*written, *rejected, 1])
    return (f'<svg class="spark" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-hidden="true">'
            + _polyline(_points(written, width, height, top, 3), "written")
            + _polyline(_points(rejected, width, height, top, 3), "rejected") + "</svg>")


def trend_chart(labels: Sequence[str], written: Sequence[int], rejected: Sequence[int],
                width: int = 520, height: int = 150) -> str:
    """Both lines with dots, a light grid and the run labels along the bottom."""
    top = max([*written, *rejected, 1])
    pad_left, pad = 40.0, 14.0
    inner_w = width - pad_left - pad
    inner_h = height - 2 * pad - 12
    step = inner_w / max(len(written) - 1, 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return pad_left + i * step, pad + inner_h - v * inner_h / top

    parts = [f'<svg class="trend-chart" viewBox="0 0 {width} {height}" '
             'preserveAspectRatio="xMidYMid meet" role="img" '
             'aria-label="written and rejected per run">']
    for k in range(3):
        value = round(top * k / 2)
        y = pad + inner_h - value * inner_h / top
        parts.append(f'<line class="grid" x1="{_num(pad_left)}" x2="{width - pad:.0f}" '
                     f'y1="{_num(y)}" y2="{_num(y)}"/>'
                     f'<text x="{_num(pad_left - 6)}" y="{_num(y + 3)}" '
                     f'text-anchor="end">{value:,}</text>')
    for series, css in ((written, "written"), (rejected, "rejected")):
        points = [xy(i, v) for i, v in enumerate(series)]
        parts.append(_polyline(points, css))
        parts += [f'<circle class="dot-{css}" cx="{_num(x)}" cy="{_num(y)}" r="3"/>'
                  for x, y in points]
    for i, label in enumerate(labels):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{_num(x)}" y="{height - 4}" text-anchor="middle">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
