"""Inline SVG bar charts for the HTML report (no JavaScript, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6fb3", "#d9822b", "#c23030", "#7a7a7a", "#3a9a5b")


@dataclass(frozen=True)
class Series:
    name: str
    color: str


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _short(label: str, limit: int = 42) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Sequence[float]],
    series: Sequence[Series],
    unit: str = "",
    maximum: float | None = None,
) -> str:
    """Horizontal (stacked) bars: one row per label, one segment per series."""
    if not labels:
        return (
            f'<figure><figcaption>{escape(title)}</figcaption><p class="empty">no data</p></figure>'
        )
    label_w, bar_w, row_h, top = 300, 400, 26, 8
    totals = [sum(v) for v in values]
    scale_max = maximum if maximum is not None else max(max(totals), 1)
    height = top + row_h * len(labels) + 30
    width = label_w + bar_w + 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, row) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" class="lbl">'
            f"{escape(_short(label))}</text>"
        )
        x = float(label_w)
        for value, s in zip(row, series, strict=True):
            w = bar_w * value / scale_max if scale_max else 0
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                    f'fill="{s.color}"><title>{escape(s.name)}: {_fmt(value)}{unit}</title></rect>'
                )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 16}" class="val">{_fmt(totals[i])}{unit}</text>'
        )
    axis_y = top + row_h * len(labels) + 4
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + bar_w}" y2="{axis_y}" '
        'stroke="#999" stroke-width="1"/>'
    )
    parts.append(f'<text x="{label_w}" y="{axis_y + 16}" class="val">0</text>')
    parts.append(
        f'<text x="{label_w + bar_w}" y="{axis_y + 16}" text-anchor="end" class="val">'
        f"{_fmt(scale_max)}{unit}</text>"
    )
    parts.append("</svg>")
    legend = ""
    if len(series) > 1:
        legend = (
            '<div class="legend">'
            + "".join(
                f'<span><i style="background:{s.color}"></i>{escape(s.name)}</span>' for s in series
            )
            + "</div>"
        )
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}{legend}</figure>"
