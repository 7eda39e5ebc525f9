"""Charts as inline SVG, drawn on the server: the console needs no script or font from
anywhere. Each chart has a title and a text alternative (``aria-label``), and each point,
bar or cell its figure as a tooltip; the table under every chart holds the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# Colours that keep 3:1 against white and tell apart for the common colour blindnesses
# (Okabe & Ito's palette).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 280, 56, 40, 24, 56

Series = dict[str, Sequence[float | None]]


def line_chart(
    title: str, labels: Sequence[str], series: Series, *, percent: bool = False
) -> Markup:
    """One line per series over the labels (periods)."""
    top = max((v for values in series.values() for v in values if v is not None), default=0)
    top = 1.0 if percent else nice(top)
    parts = frame(title, labels, top, percent)
    step = (WIDTH - LEFT - RIGHT) / max(1, len(labels) - 1)
    for colour, (name, values) in zip(COLOURS, series.items(), strict=False):
        points = [(LEFT + i * step, y_of(v, top), v) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{path}"/>'
            )
        for (x, y, v), label in zip(
            points, [labels[i] for i, v in enumerate(values) if v is not None], strict=True
        ):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                f"<title>{escape(name)}, {escape(label)}: "
                f"{shown(v, percent)}</title></circle>"
            )
    return finish(title, parts, legend(series))


def bar_chart(
    title: str, labels: Sequence[str], series: Series, *, percent: bool = False
) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    top = max((v for values in series.values() for v in values if v is not None), default=0)
    top = 1.0 if percent else nice(top)
    parts = frame(title, labels, top, percent, bars=True)
    group = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    width = group * 0.8 / max(1, len(series))
    for s, (colour, (name, values)) in enumerate(zip(COLOURS, series.items(), strict=False)):
        for i, v in enumerate(values):
            if v is None:
                continue
            x = LEFT + i * group + group * 0.1 + s * width
            y = y_of(max(v, 0), top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}">'
                f"<title>{escape(name)}, {escape(labels[i])}: "
                f"{shown(v, percent)}</title></rect>"
            )
    return finish(title, parts, legend(series))


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
) -> Markup:
    """Shares (0 to 1) as cells: darker is more; each cell also prints its percentage."""
    cell_w = min(64.0, (WIDTH - 96) / max(1, len(columns)))
    cell_h = 26.0
    height = TOP + 24 + cell_h * len(rows) + 8
    parts = [
        f'<text x="{96 + j * cell_w + cell_w / 2:.1f}" y="{TOP + 12}" '
        f'text-anchor="middle" class="axis">{escape(c)}</text>'
        for j, c in enumerate(columns)
    ]
    for i, (label, line) in enumerate(zip(rows, values, strict=True)):
        y = TOP + 24 + i * cell_h
        parts.append(
            f'<text x="90" y="{y + cell_h * 0.65:.1f}" text-anchor="end" '
            f'class="axis">{escape(label)}</text>'
        )
        for j, v in enumerate(line):
            if v is None:
                continue
            x = 96 + j * cell_w
            dark = v > 0.5
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" '
                f'fill="#0072b2" fill-opacity="{0.08 + 0.92 * max(0.0, min(1.0, v)):.2f}">'
                f"<title>{escape(label)}, {escape(columns[j])}: {v:.0%}</title></rect>"
                f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + cell_h * 0.65:.1f}" '
                f'text-anchor="middle" class="cell{" on-dark" if dark else ""}">{v:.0%}</text>'
            )
    width = 96 + cell_w * len(columns) + 8
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def frame(
    title: str, labels: Sequence[str], top: float, percent: bool, *, bars: bool = False
) -> list[str]:
    """Axes, gridlines at quarters of the top value, and the labels along the bottom (thinned
    to fit)."""
    parts = []
    for k in range(5):
        value = top * k / 4
        y = y_of(value, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{shown(value, percent)}</text>"
        )
    every = max(1, len(labels) // 12)
    span = WIDTH - LEFT - RIGHT
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = (
            LEFT + (i + 0.5) * span / max(1, len(labels))
            if bars
            else LEFT + i * span / max(1, len(labels) - 1)
        )
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
            f'class="axis">{escape(label)}</text>'
        )
    return parts


def legend(series: Series) -> str:
    items = []
    for k, (colour, name) in enumerate(zip(COLOURS, series, strict=False)):
        x = LEFT + k * 170
        items.append(
            f'<rect x="{x}" y="{HEIGHT - 22}" width="12" height="12" '
            f'fill="{colour}"/><text x="{x + 18}" y="{HEIGHT - 12}" class="axis">'
            f"{escape(name)}</text>"
        )
    return "".join(items)


def finish(title: str, parts: list[str], legend_svg: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}"><title>{escape(title)}'
        f"</title>{''.join(parts)}{legend_svg}</svg>"
    )


def y_of(value: float, top: float) -> float:
    return HEIGHT - BOTTOM - (value / top if top else 0) * (HEIGHT - BOTTOM - TOP)


def nice(top: float) -> float:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return 1.0
    power = 10.0 ** (len(str(int(top))) - 1)
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= top))


def shown(value: float | None, percent: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:,.2f}".rstrip("0").rstrip(".")
