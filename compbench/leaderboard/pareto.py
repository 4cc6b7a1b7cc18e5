"""Quality against additional storage: the points, their Pareto frontier, an inline SVG and matplotlib files.

A point is a method averaged over a table's base models: quality is a main-metric score (a family's, or the
mean of the four families' for the overall view), storage the method's additional bytes in MB (2**20 bytes).
A point is on the frontier when no other point has at most its storage and at least its quality, one of them
strictly. Storage spans zero to tens of MB, so the x axis is matplotlib's symmetric log scale (linear below
0.01 MB); the inline SVG draws the same transform so both pictures agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

LINTHRESH_MB = 0.01
_LINSCALE = 1.0 / (1.0 - 1.0 / 10.0)  # matplotlib's symlog, base 10, linscale 1
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 50


@dataclass(frozen=True)
class Point:
    key: str
    label: str
    storage_mb: float
    quality: float


def frontier(points: list[Point]) -> list[Point]:
    """The Pareto-optimal points (less storage, more quality), by increasing storage."""
    best = -math.inf
    out = []
    for p in sorted(points, key=lambda p: (p.storage_mb, -p.quality, p.key)):
        if p.quality > best:
            out.append(p)
            best = p.quality
    return out


def symlog(mb: float) -> float:
    """matplotlib's ``symlog`` transform (base 10, ``linthresh`` 0.01 MB, ``linscale`` 1) for x >= 0."""
    if mb <= LINTHRESH_MB:
        return mb * _LINSCALE
    return LINTHRESH_MB * (_LINSCALE + math.log10(mb / LINTHRESH_MB))


def _ticks(high: float) -> list[float]:
    ticks = [0.0, LINTHRESH_MB]
    while ticks[-1] < high:
        ticks.append(ticks[-1] * 10)
    return ticks


def _tick_label(mb: float) -> str:
    return "0" if mb == 0 else f"{mb:g}"


def _nice_range(values: list[float]) -> tuple[float, float]:
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low, high = math.floor(low / 5) * 5, math.ceil(high / 5) * 5
    return (low, high) if high > low else (low, low + 5)


def to_svg(points: list[Point], title: str, y_label: str, element_id: str) -> str:
    """An inline ``<svg>``: axes, one circle per point (its label in a tooltip), the frontier as a staircase and
    the frontier points labelled. Deterministic text; every label escaped."""
    on = {p.key for p in frontier(points)}
    x_ticks = _ticks(max([p.storage_mb for p in points], default=1.0))
    y_low, y_high = _nice_range([p.quality for p in points])
    x_max = symlog(x_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(mb: float) -> float:
        return LEFT + plot_w * symlog(mb) / x_max

    def y(q: float) -> float:
        return TOP + plot_h * (1 - (q - y_low) / (y_high - y_low))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(element_id)}" class="pareto-plot" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
           f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
           f"<title>{escape(title)}</title>",
           f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
           f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>']
    for tick in x_ticks:
        out.append(f'<text class="tick" x="{x(tick):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                   f"{_tick_label(tick)}</text>")
    y_step = 5 if y_high - y_low <= 50 else 10
    for step in range(int(y_low), int(y_high) + 1, y_step):
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y(step) + 4:.1f}" text-anchor="end">{step}</text>')
    out.append(f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
               "Additional storage (MB, symmetric log scale)</text>")
    out.append(f'<text class="axis-label" x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>')
    front = frontier(points)
    if front:
        path = f"M {x(front[0].storage_mb):.1f} {y(front[0].quality):.1f}"
        for p in front[1:]:
            path += f" H {x(p.storage_mb):.1f} V {y(p.quality):.1f}"
        out.append(f'<path class="frontier" d="{path}"/>')
    for p in sorted(points, key=lambda p: p.key):
        cls = "point on-frontier" if p.key in on else "point"
        out.append(f'<circle class="{cls}" data-key="{escape(p.key)}" cx="{x(p.storage_mb):.1f}" '
                   f'cy="{y(p.quality):.1f}" r="4"><title>{escape(p.label)}: {p.quality:.2f}, '
                   f"{p.storage_mb:.2f} MB</title></circle>")
        if p.key in on:
            out.append(f'<text class="point-label" x="{x(p.storage_mb) + 6:.1f}" y="{y(p.quality) - 6:.1f}">'
                       f"{escape(p.label)}</text>")
    if not points:
        out.append(f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
                   'text-anchor="middle">no method with a complete score yet</text>')
    out.append("</svg>")
    return "\n".join(out)


def write_files(points: list[Point], title: str, y_label: str, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.svg`` drawn by matplotlib (Agg, no pyplot state), reproducible bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    front = frontier(points)
    on = {p.key for p in front}
    with matplotlib.rc_context({"svg.hashsalt": "compbench", "font.size": 9}):
        fig = Figure(figsize=(6.4, 4.0), dpi=100)
        ax = fig.add_subplot()
        ax.set_xscale("symlog", linthresh=LINTHRESH_MB, linscale=1.0)
        ax.scatter([p.storage_mb for p in points], [p.quality for p in points], s=18,
                   c=["#1f5fa8" if p.key in on else "#8c8c8c" for p in points], zorder=3)
        if front:
            ax.step([p.storage_mb for p in front], [p.quality for p in front], where="post", color="#1f5fa8",
                    linewidth=1.2, zorder=2)
        for p in front:
            ax.annotate(p.label, (p.storage_mb, p.quality), textcoords="offset points", xytext=(5, 5))
        ax.set_xlim(left=0)
        ax.set_xlabel("Additional storage (MB, symmetric log scale)")
        ax.set_ylabel(y_label)
        ax.set_title(title)
        ax.grid(True, linewidth=0.3)
        fig.tight_layout()
        stem.parent.mkdir(parents=True, exist_ok=True)
        png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return [png, svg]
