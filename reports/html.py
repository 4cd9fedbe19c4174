"""report.html: the analyst's full report, and the Jinja environment every HTML output shares.

Jinja autoescapes everything: a drug name typed as `<script>` arrives in the HTML as text, and an
undefined name in a template is an error, not an empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.action import high_after
from reports.charts import funnel_svg, monthly_rates, trend_svg
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
    text = str(value)
    return text[:-2] if text.endswith(".0") and text[:-2].lstrip("-").isdigit() else text  # '140.0' -> '140'


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
        "label": f"{len(history)} {'month-ends' if getattr(first, 'monthly', False) else 'runs'}: "
        f"{pct(first.rate)} ({first.as_of}) to {pct(last.rate)} ({last.as_of})",
    }


def num(n: int | float | None) -> str:
    """A count with thousands separators (12,345); a dash for none."""
    if n is None:
        return "—"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def overdue(n: int) -> str:
    """Days past a due date, in words: 'overdue by 40 days', 'due today', 'due in 5 days'."""
    if n == 0:
        return "due today"
    word = "day" if abs(n) == 1 else "days"
    return f"overdue by {n:,} {word}" if n > 0 else f"due in {-n:,} {word}"


# The canonical unit of each analyte's value in evidence (pipelines/reference/analytes.csv; a test
# holds this to it). Evidence named last_<analyte> or latest_<analyte> is shown with its unit.
UNITS = {
    "potassium": "mmol/L",
    "sodium": "mmol/L",
    "magnesium": "mmol/L",
    "calcium": "mmol/L",
    "glucose": "mmol/L",
    "creatinine": "umol/L",
    "egfr": "mL/min/1.73m2",
    "albumin": "g/L",
}
COUNT_UNITS = {"age": "years", "trial_count": "drugs", "active_drug_count": "drugs"}


def _with_unit(name: str, value: Any) -> str:
    shown = show(value)
    analyte = name.removeprefix("last_").removeprefix("latest_")
    unit = UNITS.get(analyte) if analyte != name else COUNT_UNITS.get(name)
    return f"{shown} {unit}" if unit and shown != "—" else shown


def _day(value: Any) -> str:
    """A timestamp in evidence as its date: the time of day is noise on a worklist."""
    text = show(value)
    return text[:10] if len(text) > 10 and text[4:5] == "-" and text[10:11] in ("T", " ") else text


def evidence_items(evidence: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Evidence for one or two worklist lines: a result and its date joined ('last potassium 3.1
    mmol/L on 2026-01-02'), the results never taken gathered into one item ('no result: sodium,
    egfr'), empty values left out, values with their units, timestamps as dates."""
    values = dict(evidence)
    items: list[tuple[str, str]] = []
    never: list[str] = []
    by_day: dict[str, list[str]] = {}  # results taken the same day share one item
    for name, value in evidence:
        if name.endswith("_at") and name[:-3] in values:
            continue  # shown with its result
        if f"{name}_at" in values:
            analyte = label(name).removeprefix("last ").removeprefix("latest ")
            at = values[f"{name}_at"]
            if value in (None, "") and at in (None, ""):
                never.append(analyte)
            elif at in (None, ""):
                items.append((label(name), _with_unit(name, value)))
            else:
                day = _day(at)
                if day not in by_day:
                    by_day[day] = []
                    items.append((f"last on {day}", day))  # placeholder, filled below
                by_day[day].append(f"{analyte} {_with_unit(name, value)}")
        elif value not in (None, ""):
            shown = _day(value) if name.endswith(("_at", "_since", "_on")) else _with_unit(name, value)
            items.append((label(name), shown))
    items = [(k, ", ".join(by_day[v]) if k == f"last on {v}" and v in by_day else v) for k, v in items]
    return items + ([("no result", ", ".join(never))] if never else [])


# Unicode's bidirectional controls (embeddings, overrides, isolates and marks): in a patient id or a
# drug name they reorder what follows on screen ('P0\u202e123' reads "P0321", and turns the "new" tag
# beside it), so the report and the worklist it mirrors would disagree on what the id looks like.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def show_controls(value: Any) -> Any:
    """Every value a template prints, its bidirectional controls shown as what they are ('⟨U+202E⟩')
    rather than obeyed; the CSVs keep the text as exported."""
    if isinstance(value, str) and not BIDI_CONTROLS.isdisjoint(value):
        return value.translate({ord(c): f"\u27e8U+{ord(c):04X}\u27e9" for c in BIDI_CONTROLS})
    return value


def environment() -> Environment:
    """The Jinja environment: templates from the package, autoescape on, undefined names fail, and
    bidirectional controls in the data shown, not obeyed (show_controls)."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=show_controls,
    )
    env.filters.update(pct=pct, show=show, label=label, days=days, sparkline=sparkline)
    env.filters.update(num=num, overdue=overdue, evidence_items=evidence_items)
    env.filters.update(trend_svg=trend_svg, funnel_svg=funnel_svg, monthly_rates=monthly_rates)  # #19
    env.globals["num"] = num
    env.globals["high_after"] = high_after
    return env


def render_report(ctx: ReportContext) -> str:
    """The analyst's full, self-contained report."""
    return environment().get_template("report.html.j2").render(ctx=ctx, h=ctx.header)
