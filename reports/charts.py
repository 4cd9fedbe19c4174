"""The report's charts as inline SVG (issue #19): no scripts, text as text, readable in print.

- `trend_svg`: a check's monthly measures: rate by month-end (line, left axis), population (grey bars,
  right axis), months along the bottom.
- `funnel_svg`: each site's rate against its population at the latest month-end, with the network's
  average and its 95% and 99.8% control limits (Wilson score limits of the average at each
  population size, `control_limit`); a site outside the
  99.8% limits is labelled. Sites with few patients sit at the wide left of the funnel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 52, 14, 40
Z95, Z998 = 1.96, 3.09


@dataclass(frozen=True)
class MonthPoint:
    """One month-end's measure of a check (exact counts: the analyst's report)."""

    month_end: date
    population: int
    flagged: int

    @property
    def rate(self) -> float | None:
        """Flagged share of the population; None when nobody is in it."""
        return self.flagged / self.population if self.population else None


@dataclass(frozen=True)
class TrendPoint:
    """A month-end's rate for the at-a-glance sparkline."""

    as_of: date
    rate: float
    monthly: bool = True


def monthly_rates(points: Sequence[MonthPoint]) -> tuple[TrendPoint, ...]:
    """The monthly measures as sparkline points, one per month-end with anyone in the population: a
    month with nobody has no rate (the full chart leaves it out too), and drawn as 0% every cramps
    sparkline read '0% for a year, then 100%'."""
    return tuple(TrendPoint(p.month_end, p.rate) for p in points if p.rate is not None)


@dataclass(frozen=True)
class SitePoint:
    """One site's measure at a month-end."""

    site: str
    population: int
    flagged: int


def _nice_top(value: float) -> float:
    """The rate axis' top: the next 10% step above the highest rate (at least 10%), or 20% step
    above 50%, so that every gridline falls on a round percentage."""
    tenths = max(1, math.ceil(value * 10 - 1e-9))
    return (tenths + tenths % 2 if tenths > 5 else tenths) / 10


def _ticks(top: float) -> list[float]:
    """The rate gridlines: every 10% up to 50%, every 20% above."""
    step = 0.1 if top <= 0.5 + 1e-9 else 0.2
    return [k * step for k in range(round(top / step) + 1)]


def _text(x: float, y: float, content: str, anchor: str = "middle", size: int = 11) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">{escape(content)}</text>'


def _frame(title: str, desc: str, body: list[str]) -> Markup:
    return Markup(  # every text in it went through html.escape
        f'<svg class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"><title>{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>" + "".join(body) + "</svg>"
    )


def trend_svg(points: Sequence[MonthPoint], title: str) -> Markup | None:
    """The monthly trend of one check; None with fewer than two months."""
    if len(points) < 2:
        return None
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_rate = _nice_top(max((p.rate or 0.0) for p in points))
    top_pop = max(max(p.population for p in points), 1)
    step = plot_w / (len(points) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y_rate(rate: float) -> float:
        return TOP + plot_h - rate / top_rate * plot_h

    body = []
    for rate in _ticks(top_rate):  # rate gridlines and labels, left
        body.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y_rate(rate):.1f}" y2="{y_rate(rate):.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
        )
        body.append(_text(LEFT - 6, y_rate(rate) + 4, f"{rate * 100:.0f}%", "end"))
    bar_w = max(step * 0.6, 2)
    for i, p in enumerate(points):  # population bars, right axis
        h = p.population / top_pop * plot_h * 0.35
        tip = escape(f"{p.month_end:%b %Y}: population {p.population:,}")
        body.append(
            f'<rect x="{x(i) - bar_w / 2:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="#d9d9d9"><title>{tip}</title></rect>'
        )
    body.append(_text(WIDTH - RIGHT + 6, TOP + plot_h - plot_h * 0.35 + 4, f"n {top_pop:,}", "start", 10))
    body.append(_text(WIDTH - RIGHT + 6, TOP + plot_h + 4, "n 0", "start", 10))
    coords = [(x(i), y_rate(p.rate)) for i, p in enumerate(points) if p.rate is not None]
    if coords:
        body.append(
            '<polyline fill="none" stroke="#0b4f9c" stroke-width="2" points="'
            + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            + '"/>'
        )
    for i, p in enumerate(points):
        if p.rate is not None:
            label = f"{p.month_end:%b %Y}: {p.flagged:,} of {p.population:,} ({p.rate * 100:.1f}%)"
            body.append(
                f'<circle cx="{x(i):.1f}" cy="{y_rate(p.rate):.1f}" r="2.5" fill="#0b4f9c">'
                f"<title>{escape(label)}</title></circle>"
            )
        if i % 3 == (len(points) - 1) % 3:  # every third month, ending on the latest
            body.append(_text(x(i), HEIGHT - BOTTOM + 16, f"{p.month_end:%b %y}"))
    body.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#888"/>'
    )
    body.append(
        _text(LEFT + plot_w / 2, HEIGHT - 6, "month-end (bars: population, line: flagged rate)", size=10)
    )
    first, last = points[0], points[-1]
    desc = (
        f"{len(points)} month-ends from {first.month_end} to {last.month_end}; latest "
        f"{last.flagged:,} of {last.population:,} flagged"
    )
    return _frame(title, desc, body)


def control_limit(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score limits of the network rate p for a site of n patients. Unlike p ± z·√(p(1−p)/n)
    they stay inside [0, 1] without clipping and do not collapse onto p when p is near 0 or 1, so a
    small site with a few flags at a rate near 0 is not drawn outside a funnel of zero width."""
    shrink = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    return max(centre - half, 0.0), min(centre + half, 1.0)  # max/min: float rounding only


def funnel_svg(sites: Sequence[SitePoint], title: str) -> Markup | None:
    """Each site's rate against its population, in the network's funnel; None under two sites."""
    sites = [s for s in sites if s.population > 0]
    if len(sites) < 2:
        return None
    p = sum(s.flagged for s in sites) / sum(s.population for s in sites)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_n = max(s.population for s in sites) * 1.1
    top_rate = _nice_top(max([s.flagged / s.population for s in sites] + [control_limit(p, 1, Z95)[1] * 0.6]))

    def x(n: float) -> float:
        return LEFT + n / top_n * plot_w

    def y(rate: float) -> float:
        return TOP + plot_h - min(rate, top_rate) / top_rate * plot_h

    body = [
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#888"/>',
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#333" '
        'stroke-width="1.5"/>',
    ]
    for rate in _ticks(top_rate):
        body.append(_text(LEFT - 6, y(rate) + 4, f"{rate * 100:.0f}%", "end"))
    ns = [max(top_n * i / 60, 1) for i in range(1, 61)]
    for z, dash in ((Z95, "4 3"), (Z998, "1 3")):
        for side in (0, 1):
            pts = " ".join(f"{x(n):.1f},{y(control_limit(p, n, z)[side]):.1f}" for n in ns)
            body.append(f'<polyline fill="none" stroke="#777" stroke-dasharray="{dash}" points="{pts}"/>')
    for s in sites:
        rate = s.flagged / s.population
        low, high = control_limit(p, s.population, Z998)
        outlier = not low <= rate <= high
        label = f"site {s.site}: {s.flagged:,} of {s.population:,} ({rate * 100:.1f}%)"
        body.append(
            f'<circle cx="{x(s.population):.1f}" cy="{y(rate):.1f}" r="{4 if outlier else 3}" '
            f'fill="{"#b00020" if outlier else "#0b4f9c"}"><title>{escape(label)}</title></circle>'
        )
        if outlier:
            body.append(_text(x(s.population) + 6, y(rate) - 4, s.site, "start", 10))
    for k in range(5):
        body.append(_text(x(top_n * k / 4), HEIGHT - BOTTOM + 16, f"{top_n * k / 4:,.0f}"))
    body.append(
        _text(
            LEFT + plot_w / 2,
            HEIGHT - 6,
            f"population per site (line: network {p * 100:.1f}%; dashed 95%, dotted 99.8% limits)",
            size=10,
        )
    )
    desc = f"{len(sites)} sites; network rate {p * 100:.1f}%"
    return _frame(title, desc, body)
