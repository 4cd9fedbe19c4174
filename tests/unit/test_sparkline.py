"""The at-a-glance sparkline of a check's monthly measures (reports/charts.py monthly_rates,
reports/html.py sparkline)."""

from __future__ import annotations

from datetime import date

from reports.charts import MonthPoint, monthly_rates
from reports.html import sparkline


def test_a_month_with_nobody_in_the_population_is_no_point_at_zero():
    """measures.csv gives such a month no rate and the full chart leaves it out: drawn at 0%, every
    cramps sparkline read '0% for a year, then 100%', its label '0.0% (2024-11-30) to ...'."""
    months = [MonthPoint(date(2026, m, 28), 0, 0) for m in range(1, 7)]
    months += [MonthPoint(date(2026, m, 28), 10, 4) for m in range(7, 11)]
    points = monthly_rates(months)
    assert [p.as_of.month for p in points] == [7, 8, 9, 10]
    drawn = sparkline(points)
    assert drawn is not None and drawn["label"] == "4 month-ends: 40.0% (2026-07-28) to 40.0% (2026-10-28)"
    assert sparkline(monthly_rates(months[:7])) is None  # one month with a rate: nothing to draw
