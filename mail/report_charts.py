"""Horizontal bar charts for the HTML report: the geometry here, the SVG in
templates/report/_chart.html.j2 (no JavaScript, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

PALETTE = ("#2f6fb3", "#d9822b", "#c23030", "#7a7a7a", "#3a9a5b")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html.j2",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Series:
    name: str
    color: str


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    color: str
    title: str


@dataclass(frozen=True)
class Row:
    y: int
    label: str
    segments: list[Segment]
    total_x: float
    total: str


@dataclass(frozen=True)
class Chart:
    """A chart laid out in SVG units; `rows` empty means "no data"."""

    title: str
    width: int = 0
    height: int = 0
    label_w: int = 300
    bar_w: int = 400
    axis_y: int = 0
    scale: str = ""
    rows: list[Row] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _short(label: str, limit: int = 42) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def layout(
    title: str,
    labels: Sequence[str],
    values: Sequence[Sequence[float]],
    series: Sequence[Series],
    unit: str = "",
    maximum: float | None = None,
) -> Chart:
    """Horizontal (stacked) bars: one row per label, one segment per series."""
    if not labels:
        return Chart(title)
    label_w, bar_w, row_h, top = 300, 400, 26, 8
    totals = [sum(v) for v in values]
    scale_max = maximum if maximum is not None else max(max(totals), 1)
    rows = []
    for i, (label, row) in enumerate(zip(labels, values, strict=True)):
        x = float(label_w)
        segments = []
        for value, s in zip(row, series, strict=True):
            w = bar_w * value / scale_max if scale_max else 0
            if w > 0:
                segments.append(Segment(x, w, s.color, f"{s.name}: {_fmt(value)}{unit}"))
            x += w
        rows.append(Row(top + i * row_h, _short(label), segments, x, f"{_fmt(totals[i])}{unit}"))
    return Chart(
        title=title,
        width=label_w + bar_w + 90,
        height=top + row_h * len(labels) + 30,
        label_w=label_w,
        bar_w=bar_w,
        axis_y=top + row_h * len(labels) + 4,
        scale=f"{_fmt(scale_max)}{unit}",
        rows=rows,
        legend=list(series) if len(series) > 1 else [],
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Sequence[float]],
    series: Sequence[Series],
    unit: str = "",
    maximum: float | None = None,
) -> str:
    """The chart as an HTML `<figure>` with inline SVG."""
    chart = layout(title, labels, values, series, unit, maximum)
    macros = env.get_template("report/_chart.html.j2").module
    return str(macros.chart(chart))  # type: ignore[attr-defined]
