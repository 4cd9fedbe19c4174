"""report.html: the analyst's full report, and the Jinja environment every HTML output shares.

Jinja autoescapes everything: a drug name typed as `<script>` arrives in the HTML as text, and an
undefined name in a template is an error, not an empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.context import RatePoint, ReportContext

SPARK_WIDTH, SPARK_HEIGHT = 140, 36


def pct(rate: float) -> str:
    """A rate as a percentage with one decimal."""
    return f"{rate * 100:.1f}%"


def show(value: Any) -> str:
    """An evidence value as a reader wants it: yes/no, a dash for nothing, numbers without noise."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label(name: str) -> str:
    """An evidence column name as words."""
    return name.replace("_", " ")


def days(n: int) -> str:
    """How long a patient has been flagged, in words."""
    return "first flagged in this run" if n == 0 else f"{n} day{'s' if n != 1 else ''}"


def sparkline(history: Sequence[RatePoint]) -> dict[str, Any] | None:
    """Polyline coordinates for a rate chart (None below two runs); the y axis starts at zero."""
    if len(history) < 2:
        return None
    top = max(max(p.rate for p in history), 0.01)
    step = (SPARK_WIDTH - 8) / (len(history) - 1)
    coords = [
        (4 + i * step, SPARK_HEIGHT - 2 - (p.rate / top) * (SPARK_HEIGHT - 6)) for i, p in enumerate(history)
    ]
    first, last = history[0], history[-1]
    return {
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
        "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
        "last_x": f"{coords[-1][0]:.1f}",
        "last_y": f"{coords[-1][1]:.1f}",
        "label": f"{len(history)} runs: {pct(first.rate)} ({first.as_of}) to {pct(last.rate)} ({last.as_of})",
    }


def environment() -> Environment:
    """The Jinja environment: templates from the package, autoescape on, undefined names fail."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, show=show, label=label, days=days, sparkline=sparkline)
    return env


def render_report(ctx: ReportContext) -> str:
    """The analyst's full, self-contained report."""
    return environment().get_template("report.html.j2").render(ctx=ctx, h=ctx.header)
