"""The independent oracle, part two: the ten checks re-stated in plain Python over the records
``oracle_read`` loads, and the expected flags they give under every plausible reading."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .oracle_read import (
    BETA_BLOCKER,
    CALCIUM_FORMS,
    DIURETIC,
    FALL_RISK,
    FALL_RISK_ANY_FORM,
    INSULIN,
    NEUROPATHIC,
    NSAID,
    PRIMARY,
    STATIN,
    VARIANTS,
    Diagnosis,
    LabResult,
    PatientRecord,
    Prescription,
    Reading,
    load_export,
)
from .shared import AS_OF, CC, CEC, CMR, CMW, DEM, ENF, IPD, NKD, NNW, RNP


@dataclass(frozen=True)
class Ctx:
    """The as-of date and the reading in force."""

    as_of: date
    reading: Reading

    def back(self, days: int, soft: bool = False) -> date:
        """The first day of a window of ``days`` days up to as-of (soft: subject to slack)."""
        return self.as_of - timedelta(days=days + (self.reading.soft_slack if soft else 0))

    def audited(self, p: PatientRecord) -> bool:
        """In the checks' populations: not dead on as-of (death on as-of or unknown date: dead)."""
        if p.death is not None:
            return p.death > self.as_of
        return not p.deceased


def rx_end(rx: Prescription, ctx: Ctx) -> date | None:
    """The effective end: end_date, else start + days_supply, else None (ongoing); death at latest."""
    end = rx.end_date
    if end is None and rx.days_supply is not None:
        end = rx.start + timedelta(days=rx.days_supply + ctx.reading.days_supply_end_offset)
    if rx.ends_by is not None and (end is None or rx.ends_by < end):
        return rx.ends_by
    return end


def overlaps(rx: Prescription, low: date, high: date, ctx: Ctx) -> bool:
    """Active at some time in [low, high]; with low == high, active on that day."""
    end = rx_end(rx, ctx)
    return rx.start <= high and (end is None or end >= low)


def active_on(rx: Prescription, day: date, ctx: Ctx, open_course: int | None = None) -> bool:
    """Active on ``day``; with ``open_course``, a row with no end date and no days supply is a
    course of that many days from its start rather than ongoing (issue #15, NSAIDs)."""
    end = rx_end(rx, ctx)
    if open_course is not None and rx.end_date is None and rx.days_supply is None:
        course = rx.start + timedelta(days=open_course)
        end = course if end is None else min(end, course)
    return rx.start <= day and (end is None or end >= day)


def stopped_early(rx: Prescription) -> bool:
    """An end date before the supply's last day (start + days_supply - 1): the drug was stopped."""
    return (
        rx.end_date is not None
        and rx.days_supply is not None
        and rx.end_date < rx.start + timedelta(days=rx.days_supply - 1)
    )


def taken_until(rx: Prescription, ctx: Ctx) -> date | None:
    """The last day taken: the end plus the reading's refill_gap days, at most the course's own
    length, none after a drug stopped before its supply ran out; None while it runs on."""
    end = rx_end(rx, ctx)
    if end is None:
        return None
    gap = 0 if stopped_early(rx) else min(ctx.reading.refill_gap, (end - rx.start).days)
    return end + timedelta(days=gap)


def break_after(rx: Prescription, ctx: Ctx) -> date | None:
    """The last day a course still holds after ``rx``: its end plus the whole refill gap, whether it
    was stopped or was a short issue (a later start past it begins a new course); None: it runs on."""
    end = rx_end(rx, ctx)
    return None if end is None else end + timedelta(days=ctx.reading.refill_gap)


def taken_in(rx: Prescription, low: date, high: date, ctx: Ctx) -> bool:
    """Taken at some time in [low, high]: active, or in the refill gap after its end (taken_until)."""
    until = taken_until(rx, ctx)
    return rx.start <= high and (until is None or until >= low)


def drugs_taken(
    p: PatientRecord, concept: frozenset[str], low: date, high: date, ctx: Ctx, systemic: bool = False
) -> list[str]:
    """Sorted ingredients of ``concept`` taken at some time in [low, high] (taken_in); ``systemic``
    leaves out topical forms (a spironolactone cream is no diuretic exposure)."""
    taken = (rx for rx in p.rxs if taken_in(rx, low, high, ctx) and not (systemic and rx.topical))
    return sorted({i for rx in taken for i in rx.ingredients & concept})


def drugs_active(p: PatientRecord, concept: frozenset[str], low: date, high: date, ctx: Ctx) -> list[str]:
    """Sorted ingredients of ``concept`` prescribed at some time in [low, high]."""
    found = {i for rx in p.rxs if overlaps(rx, low, high, ctx) for i in rx.ingredients & concept}
    return sorted(found)


def in_window(lab: LabResult, low: date, high: date, ctx: Ctx) -> bool:
    """Collected in [low, high]; under ``timestamps`` the end is midnight starting ``high``."""
    if ctx.reading.timestamps:
        return datetime.combine(low, time()) <= lab.at <= datetime.combine(high, time())
    return low <= lab.day <= high


def results(p: PatientRecord, analytes: Iterable[str], low: date, high: date, ctx: Ctx) -> list[LabResult]:
    """Results of the analytes in the window that count as results under the reading."""
    wanted = set(analytes)
    return [
        lab
        for lab in p.labs
        if lab.analyte in wanted
        and in_window(lab, low, high, ctx)
        and (lab.value is not None or (ctx.reading.empty_value_counts and lab.blank))
    ]


def below(lab: LabResult, threshold: float) -> bool:
    """Certainly below: a plain value under it, '<b' with b <= it, '<=b' with b under it."""
    if lab.value is None or lab.comparator in (">", ">="):
        return False
    if lab.comparator == "<":
        return lab.value <= threshold
    return lab.value < threshold


def above(lab: LabResult, threshold: float) -> bool:
    """Certainly above: a plain value over it, '>b' with b >= it, '>=b' with b over it."""
    if lab.value is None or lab.comparator in ("<", "<="):
        return False
    if lab.comparator == ">":
        return lab.value >= threshold
    return lab.value > threshold


def fell(first: LabResult, second: LabResult, amount: float) -> bool:
    """A certain fall of at least ``amount``: the first at least its bound, the second at most its.

    Rounded to 0.001 so that 4.5 -> 3.5 is a fall of exactly 1.0 despite floating point.
    """
    if first.value is None or second.value is None:
        return False
    if first.comparator in ("<", "<=") or second.comparator in (">", ">="):
        return False
    return round(first.value - second.value, 3) >= amount


def shown(lab: LabResult, decimals: int) -> str:
    """The value as a clinician reads it, comparator included ('<2.5')."""
    return f"{lab.comparator or ''}{lab.value:.{decimals}f}"


def present(dx: Diagnosis, day: date) -> bool:
    """A condition recorded on or before ``day`` and not resolved on or before it."""
    return dx.recorded <= day and (dx.resolved is None or dx.resolved > day)


def cramps(p: PatientRecord, ctx: Ctx) -> list[Diagnosis]:
    """Cramp diagnoses recorded in the 365 days up to and including as-of."""
    low = ctx.back(365, soft=True)
    return sorted(
        (d for d in p.dxs if "cramp" in d.concepts and low <= d.recorded <= ctx.as_of),
        key=lambda d: d.recorded,
    )


def check_diuretic(p: PatientRecord, ctx: Ctx) -> str | None:
    """diuretic_electrolyte_monitoring."""
    drugs = drugs_taken(p, DIURETIC, ctx.as_of, ctx.as_of, ctx, systemic=True)
    if not drugs:
        return None
    low = ctx.back(365)
    missing = [a for a in ("potassium", "sodium") if not results(p, (a,), low, ctx.as_of, ctx)]
    if not missing:
        return None
    # issue #15: the course runs from the first diuretic taken in the lookback, unless it was taken
    # again after a break of more than refill_gap days with none (course_start over break_after:
    # the end plus the whole gap, a stop or a short issue alike); started within 14 days of as-of =
    # baseline tests due
    systemic = [rx for rx in p.rxs if rx.ingredients & DIURETIC and not rx.topical]
    taken = [rx for rx in systemic if (break_after(rx, ctx) or date.max) >= low and rx.start <= ctx.as_of]
    since = course_start(taken, ctx, break_after)
    label = "baseline tests due" if since >= ctx.back(14) else "overdue"
    return f"{label}: on {', '.join(drugs)} since {since}; no serum {' or '.join(missing)} result since {low}"


def check_cirrhosis(p: PatientRecord, ctx: Ctx) -> str | None:
    """cramps_cirrhosis."""
    cirrhosis = [d for d in p.dxs if "cirrhosis" in d.concepts and present(d, ctx.as_of)]
    recent = cramps(p, ctx)
    if not cirrhosis or not recent:
        return None
    first = min(cirrhosis, key=lambda d: d.recorded)
    last = recent[-1]
    return f"cirrhosis {first.code} since {first.recorded}; cramp {last.code} on {last.recorded}"


def one_per_timestamp(series: list[LabResult]) -> list[tuple[LabResult, bool]]:
    """Each timestamp's lowest result, and whether any result of that timestamp was above 5.0."""
    return [
        (min(group, key=lambda k: k.value), any(above(k, 5.0) for k in group))
        for group in (list(g) for _, g in itertools.groupby(series, key=lambda k: k.at))
    ]


def high_in_run(drawn: list[tuple[LabResult, bool]]) -> dict[int, date | None]:
    """By id of each drawn result: the last day up to it that its falling run was above 5.0. A
    result no higher than the one before and at most 7 days after it continues that run."""
    found: dict[int, date | None] = {}
    previous: LabResult | None = None
    for lab, high in drawn:
        falling = previous is not None and lab.value <= previous.value and (lab.day - previous.day).days <= 7
        before = found[id(previous)] if falling else None
        found[id(lab)] = lab.day if high else before
        previous = lab
    return found


def check_insulin(p: PatientRecord, ctx: Ctx) -> str | None:
    """insulin_potassium_drop."""
    low = ctx.back(90, soft=True)
    since = ctx.as_of if ctx.reading.ipd_insulin_on_as_of else low
    on_insulin = [rx for rx in p.rxs if rx.ingredients & INSULIN and overlaps(rx, since, ctx.as_of, ctx)]
    if not on_insulin:
        return None
    insulins = sorted({i for rx in on_insulin for i in rx.ingredients & INSULIN})
    # issue #15: "after insulin": a low result, and the later result of a fall, count from the day
    # the earliest insulin active in the lookback started; a fall from above 5.0 is a correction
    started = min(rx.start for rx in on_insulin)
    after = max(low, started)
    series = [k for k in p.labs if k.analyte == "potassium" and k.value is not None and k.day <= ctx.as_of]
    found = [f"potassium {shown(k, 1)} on {k.day}" for k in series if k.day >= after and below(k, 3.5)]
    # review 2026-12-03: results of one timestamp count as the lowest; a fall is a correction when
    # its falling run was above 5.0 within 7 days before its later result (6.6 -> 4.9 -> 3.8)
    drawn = one_per_timestamp(series)
    high_on = high_in_run(drawn)
    for (first, _), (second, _) in itertools.pairwise(drawn):
        start_ok = first.day >= low or not ctx.reading.ipd_pair_in_lookback
        close = (second.day - first.day).days <= 7
        was_high = high_on[id(first)]
        corrected = was_high is not None and (second.day - was_high).days <= 7
        if second.day >= after and start_ok and close and fell(first, second, 1.0) and not corrected:
            found.append(
                f"potassium fell {shown(first, 1)} -> {shown(second, 1)} ({first.day} -> {second.day})"
            )
    if not found:
        return None
    diuretics = drugs_active(p, DIURETIC, after, ctx.as_of, ctx)
    found += [f"also on {', '.join(diuretics)}"] if diuretics else []
    # priority: a severe result on or after insulin started, or the latest result still low
    severe = any(below(k, 3.0) for k in series if k.day >= after)
    priority = "high" if severe or below(series[-1], 3.5) else "normal"
    last = series[-1]  # latest by time: two results on one day are ordered by their clock
    at = last.at.isoformat(sep=" ", timespec="minutes") if last.at.time() != time() else last.day
    latest = f"latest potassium {shown(last, 1)} at {at}; priority {priority}"
    return f"on {', '.join(insulins)}; " + "; ".join([*found, latest])


def check_medication_review(p: PatientRecord, ctx: Ctx) -> str | None:
    """cramps_medication_review."""
    recent = cramps(p, ctx)
    if not recent:
        return None
    concept = DIURETIC | STATIN | BETA_BLOCKER
    mode = ctx.reading.cmr_active
    if mode == "cramp":
        taken = (drugs_taken(p, concept, c.recorded, c.recorded, ctx) for c in recent)
        drugs = sorted({d for found in taken for d in found})
    elif mode == "as_of":
        drugs = drugs_taken(p, concept, ctx.as_of, ctx.as_of, ctx)
    else:
        drugs = drugs_active(p, concept, ctx.back(365, soft=True), ctx.as_of, ctx)
    return f"cramp on {recent[-1].recorded} while on {', '.join(drugs)}" if drugs else None


ELECTROLYTE_LIMITS = (("potassium", 3.5), ("calcium", 2.10), ("magnesium", 0.70))
IONISED_CALCIUM_LOW = 1.15  # mmol/L; corrected and total calcium use the 2.10 above
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def corrected_calcium(total: LabResult, albumin: LabResult) -> LabResult | None:
    """Payne's albumin-corrected calcium, total + 0.02 x (40 - albumin g/L), to 2 decimals.

    Albumin enters with a minus sign, so its bound flips side ('<20' makes a lower bound); bounds
    on opposite sides say nothing (None: the total is judged as it is).
    """
    assert total.value is not None and albumin.value is not None
    sides = {c for c in (total.comparator, FLIPPED.get(albumin.comparator or "")) if c}
    if len({c[0] for c in sides}) > 1:
        return None
    comparator = min(sides, key=len) if sides else None  # '<' is stricter than '<='
    value = round(total.value + 0.02 * (40 - albumin.value), 2)
    return replace(total, analyte="corrected calcium", value=value, comparator=comparator)


def calcium_by_day(p: PatientRecord) -> list[tuple[LabResult, float]]:
    """Each collection day's calcium in the best form that day holds, with its lower limit:
    ionised, else corrected as reported, else corrected from a same-day albumin, else total."""
    judged: list[tuple[LabResult, float]] = []
    numeric = [k for k in p.labs if k.value is not None]
    for day in sorted({k.day for k in numeric if k.analyte in CALCIUM_FORMS}):
        same_day = [k for k in numeric if k.day == day]
        forms = {form: [k for k in same_day if k.analyte == form] for form in (*CALCIUM_FORMS, "albumin")}
        if forms["calcium_ionized"]:
            judged += [
                (replace(k, analyte="ionised calcium"), IONISED_CALCIUM_LOW) for k in forms["calcium_ionized"]
            ]
        elif forms["calcium_corrected"]:
            judged += [(replace(k, analyte="corrected calcium"), 2.10) for k in forms["calcium_corrected"]]
        else:
            for total in forms["calcium"]:
                albumins = sorted(forms["albumin"], key=lambda a: (abs(a.at - total.at), -(a.value or 0)))
                corrected = corrected_calcium(total, albumins[0]) if albumins else None
                judged.append((corrected or total, 2.10))
    return judged


def check_electrolytes(p: PatientRecord, ctx: Ctx) -> str | None:
    """cramps_electrolyte_check."""
    problems: list[str] = []
    slack = ctx.reading.soft_slack
    calcium = calcium_by_day(p)
    for cramp in cramps(p, ctx):
        low = cramp.recorded - timedelta(days=90 + slack)
        high = min(cramp.recorded + timedelta(days=30 + slack), ctx.as_of)
        missing, lows = [], []
        for analyte, limit in ELECTROLYTE_LIMITS:
            if analyte == "calcium":
                found = results(p, CALCIUM_FORMS, low, high, ctx)
                numeric = [(r, lim) for r, lim in calcium if in_window(r, low, high, ctx)]
            else:
                found = results(p, (analyte,), low, high, ctx)
                numeric = [(r, limit) for r in found if r.value is not None]
            judged = numeric[-1:] if ctx.reading.cec_latest_only else numeric
            low_ones = [r for r, lim in judged if below(r, lim)]
            if not found:
                missing.append(analyte)
            elif low_ones:
                lows.append(f"{low_ones[0].analyte} {shown(low_ones[0], 2)} low on {low_ones[0].day}")
        found_problems = ([f"no {', '.join(missing)}"] if missing else []) + lows
        if found_problems:
            problems.append(f"cramp {cramp.recorded}: {'; '.join(found_problems)}")
    return "; ".join(problems) or None


WORKUP_GROUPS = (
    ("thyroid (TSH)", ("tsh",)),
    ("kidney (creatinine or eGFR)", ("creatinine", "egfr")),
    ("liver (ALT, AST, bilirubin or albumin)", ("alt", "ast", "bilirubin", "albumin")),
    ("glucose or HbA1c", ("glucose", "hba1c")),
)


def check_metabolic(p: PatientRecord, ctx: Ctx) -> str | None:
    """cramps_metabolic_workup."""
    recent = cramps(p, ctx)
    if not recent:
        return None
    low = ctx.back(365, soft=True)
    missing = [label for label, group in WORKUP_GROUPS if not results(p, group, low, ctx.as_of, ctx)]
    return f"cramp on {recent[-1].recorded}; missing {', '.join(missing)}" if missing else None


def check_numbness(p: PatientRecord, ctx: Ctx) -> str | None:
    """numbness_neuropathy_workup."""
    low = ctx.back(365, soft=True)
    numb = [d for d in p.dxs if "numbness" in d.concepts and low <= d.recorded <= ctx.as_of]
    if not numb:
        return None
    groups = (("glucose or HbA1c", ("glucose", "hba1c")), ("vitamin B12", ("vitamin_b12",)))
    missing = [label for label, group in groups if not results(p, group, low, ctx.as_of, ctx)]
    if not missing:
        return None
    last = max(numb, key=lambda d: d.recorded)
    return f"{last.code} on {last.recorded}; missing {' and '.join(missing)}"


def nsaid_taken(rx: Prescription, ctx: Ctx) -> bool:
    """Taken on as-of: issue #15, an NSAID with no end date and no days supply is a 90-day course;
    review 2026-12-03, a dated one is taken in its refill gap too (taken_in: at most its length,
    none after a stop)."""
    if active_on(rx, ctx.as_of, ctx, open_course=90):
        return True
    dated = rx.end_date is not None or rx.days_supply is not None
    return dated and taken_in(rx, ctx.as_of, ctx.as_of, ctx)


def check_nsaid(p: PatientRecord, ctx: Ctx) -> str | None:
    """nsaid_kidney_disease."""
    nsaids = sorted({i for rx in p.rxs if not rx.topical and nsaid_taken(rx, ctx)
                     for i in rx.ingredients & NSAID})  # fmt: skip
    if not nsaids:
        return None
    # review 2026-12: CKD is staged by its latest code; a stage 3 code before a later stage 1-2
    # code was re-staged (one on the same day still counts; stage 4+ codes never are)
    stage1_2 = [d.recorded for d in p.dxs if "ckd1_2" in d.concepts and d.recorded <= ctx.as_of]
    restaged = max(stage1_2, default=None)
    ckd = [d for d in p.dxs if d.concepts & {"ckd3", "ckd4plus"} and present(d, ctx.as_of)
           and ("ckd4plus" in d.concepts or restaged is None or d.recorded >= restaged)]  # fmt: skip
    severe = [d for d in ckd if "ckd4plus" in d.concepts]
    limit = ctx.reading.egfr_within_days
    low = ctx.back(limit) if limit else date(1900, 1, 1)
    egfrs = kidney_function(p, low, ctx)
    reasons = [f"CKD stage 4+ {d.code}" for d in severe[:1]] or [f"CKD stage 3+ {d.code}" for d in ckd[:1]]
    if egfrs and below(egfrs[-1], 60):
        reasons.append(f"latest eGFR {shown(egfrs[-1], 0)} on {egfrs[-1].day}")
    priority = "high" if severe or (egfrs and below(egfrs[-1], 30)) else "normal"
    return f"on {', '.join(nsaids)}; {'; '.join(reasons)}; priority {priority}" if reasons else None


def kidney_function(p: PatientRecord, low: date, ctx: Ctx) -> list[LabResult]:
    """eGFRs in [low, as-of], oldest first: those reported, and (review 2026-12) one estimated by
    CKD-EPI 2021 from each plain creatinine of 20 umol/L or more collected on a day with no eGFR
    reported (18+; sex unknown: the higher of the two sexes' estimates)."""
    reported = [r for r in results(p, ("egfr",), low, ctx.as_of, ctx) if r.value is not None]
    days = {r.day for r in reported}
    estimated = []
    for c in results(p, ("creatinine",), low, ctx.as_of, ctx):
        if c.value is None or c.comparator or c.day in days or p.birth is None:
            continue
        age, creatinine = age_on(p.birth, c.day), round(c.value)  # the database keeps whole umol/L
        if age >= 18 and creatinine >= 20:
            sexes = {"F": (True,), "M": (False,)}.get(p.sex, (True, False))
            egfr = max(ckd_epi_2021(creatinine, age, female) for female in sexes)
            estimated.append(LabResult(c.day, c.at, "egfr", egfr))
    # the latest by time; on one timestamp the lower first, as the checks' latest_key resolves ties
    return sorted(reported + estimated, key=lambda r: (r.at, -(r.value or 0)))


def ckd_epi_2021(creatinine_umol: float, age: int, female: bool) -> float:
    """Race-free CKD-EPI 2021 (Inker 2021), rounded to a whole number."""
    scr = creatinine_umol / 88.42 / (0.7 if female else 0.9)
    egfr = 142 * min(scr, 1) ** (-0.241 if female else -0.302) * max(scr, 1) ** -1.2 * 0.9938**age
    return float(round(egfr * (1.012 if female else 1)))


def age_on(birth: date, day: date) -> int:
    """Completed years; a birthday on ``day`` counts."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_elderly(p: PatientRecord, ctx: Ctx) -> str | None:
    """elderly_numbness_fall_risk."""
    if p.birth is None or age_on(p.birth, ctx.as_of) < 65:
        return None
    low = ctx.back(365) if ctx.reading.enf_lookback_only else date(1900, 1, 1)
    legs = [d for d in p.dxs if "lower_limb" in d.concepts and present(d, ctx.as_of) and d.recorded >= low]
    if not legs:
        return None
    # review 2026-12: a medicine in its refill gap is still taken, for the count and the fall risk
    active = [rx for rx in p.rxs if taken_in(rx, ctx.as_of, ctx.as_of, ctx)]
    # issue #15: polypharmacy counts regular systemic medicines only
    regular = [rx for rx in active if not (rx.topical or rx.local or rx.as_needed or acute(rx, p, ctx))]
    distinct = {drug_identity(rx) for rx in regular}
    risky = sorted({i for rx in active for i in rx.ingredients & FALL_RISK
                    if i in FALL_RISK_ANY_FORM or not (rx.topical or rx.local)})  # fmt: skip
    if len(distinct) < 5 and not risky:
        return None
    why = f"age {age_on(p.birth, ctx.as_of)}; {legs[0].code}; {len(distinct)} regular systemic drugs"
    return why + (f"; fall-risk {', '.join(risky)}" if risky else "")


def course_start(
    rxs: list[Prescription], ctx: Ctx, until_of: Callable[[Prescription, Ctx], date | None] = taken_until
) -> date:
    """The start of the unbroken use that holds the latest of ``rxs``: a prescription starting later
    than the day after every earlier one's ``until_of`` (taken_until: the drug still taken) begins a
    new one."""
    began, covered = date.min, None
    for o in sorted(rxs, key=lambda o: o.start):
        if covered is None or (covered < date.max and o.start > covered + timedelta(days=1)):
            began = o.start
        until = until_of(o, ctx)
        covered = date.max if until is None or covered == date.max else max(covered or until, until)
    return began


def drug_identity(rx: Prescription) -> object:
    """What makes two prescriptions the same drug: the ingredient set (and form), else the name."""
    return (rx.ingredients, rx.topical) if rx.ingredients else rx.name.lower()


def acute(rx: Prescription, p: PatientRecord, ctx: Ctx) -> bool:
    """A course planned for under 28 days, unless the same drug has been renewed without a break (each
    prescription starting on or before the day after the earlier ones' taken_until) since 28+ days
    before as-of. One course alone (no earlier issue in its unbroken use) is judged by its planned
    length only, also in the refill gap after it (review 2026-12-07)."""
    end = rx_end(rx, ctx)
    if end is None or (end - rx.start).days >= 28:
        return False
    same = sorted(
        (o for o in p.rxs if drug_identity(o) == drug_identity(rx) and not o.as_needed),
        key=lambda o: o.start,
    )
    chain = [o for o in same if o.start <= rx.start]
    began = course_start(chain, ctx)
    renewed = any(began <= o.start < rx.start for o in chain)
    return began > ctx.back(28) or not renewed


def check_neuropathic(p: PatientRecord, ctx: Ctx) -> str | None:
    """refractory_neuropathic_pain."""
    # issue #15: a neuropathic pain indication recorded by as-of (any time, resolved or not), and
    # each drug counted at its first prescription ever (a renewal is not a new trial)
    indications = [d for d in p.dxs if "neuropathic_indication" in d.concepts and d.recorded <= ctx.as_of]
    if not indications:
        return None
    low = ctx.back(730)
    first: dict[str, date] = {}
    for rx in p.rxs:
        for ingredient in rx.ingredients & NEUROPATHIC if rx.start <= ctx.as_of else ():
            first[ingredient] = min(first.get(ingredient, rx.start), rx.start)
    drugs = sorted(i for i, start in first.items() if start >= low)
    if len(drugs) < 3:
        return None
    return (f"{len(drugs)} neuropathic pain drugs first started since {low}: {', '.join(drugs)}; "
            f"indication {indications[0].code}")  # fmt: skip


CHECKS: tuple[tuple[str, Callable[[PatientRecord, Ctx], str | None]], ...] = (
    (DEM, check_diuretic),
    (CC, check_cirrhosis),
    (IPD, check_insulin),
    (CMR, check_medication_review),
    (CEC, check_electrolytes),
    (CMW, check_metabolic),
    (NNW, check_numbness),
    (NKD, check_nsaid),
    (ENF, check_elderly),
    (RNP, check_neuropathic),
)


def evaluate(folder: Path, as_of: date, reading: Reading) -> dict[tuple[str, str], str]:
    """{(check_id, patient_id): reason} for the export in ``folder`` under one reading."""
    patients, _ = load_export(folder, reading)
    ctx = Ctx(as_of, reading)
    flags = {}
    for pid in sorted(patients):
        if not ctx.audited(patients[pid]):  # the dead are in no check's population
            continue
        for check_id, check in CHECKS:
            reason = check(patients[pid], ctx)
            if reason:
                flags[(check_id, pid)] = reason
    return flags


def derive_expected_flags(folder: Path, as_of: date = AS_OF) -> dict[tuple[str, str], str]:
    """The (check, patient) pairs the audit must flag on this export as of ``as_of``.

    Rules used (check authors: match these; where the issues leave a detail open this is the
    reading chosen, and the sample is also verified under the alternatives in VARIANTS, none of
    which may change the answer, so the sample does not force the alternatives either way):

    Common
    - Windows are inclusive calendar-date ranges; "the 365 days up to as-of" is
      [as_of - 365, as_of]. A datetime counts on its date.
    - A prescription is active on day D when start_date <= D <= end; end = end_date if given,
      else start_date + days_supply, else open-ended. It overlaps [lo, hi] when
      start_date <= hi and end >= lo.
    - Drugs are recognised by RxNorm ingredient code, ATC code (C09BA03 = lisinopril +
      hydrochlorothiazide) or an ingredient or brand word in drug_name (Lasix = furosemide,
      Aldactone = spironolactone). ATC M02* or D* or gel/cream/ointment/topical/spray/foam in
      the name marks a topical product; ATC S* or R01A*, or eye/ear/nasal drops (spray, ointment,
      gel) in the name, a local one (eye, ear, nose); prn, 'as needed', 'as required', 'when
      required' in the name an as-needed item. Neither topical nor local is systemic.
    - Labs are recognised by LOINC, else by test_name. Urine potassium/sodium (2828-8, 2955-3,
      "Urine ...") never count. Mg and Ca mg/dL are divided by 2.431 and 4.008 (mmol/L),
      creatinine mg/dL times 88.42 (umol/L); mEq/L equals mmol/L for K and Na. An empty value
      (test done, no number) is not a result and is never low. Nor is a value of text with no
      digit ('haemolysed', 'see comment'): it loads, as no result. Text with digits that is not a
      number or a censored number ('6,2') is rejected. Rows with a LOINC code no check lists
      (vital signs such as body weight 29463-7, BMI 39156-5, systolic BP 8480-6) load and are
      never any analyte. Ionised calcium (1994-3, 1995-0, "Ionised calcium") and albumin-corrected
      calcium as reported (29265-6, 18281-6, "Corrected calcium") are calcium results of their
      own form (mg/dL divided by 4.008); albumin in g/dL is multiplied by 10 (g/L).
    - A censored value (comparator <, <=, > or >=, an optional space, a number: '<2.5', '<= 5')
      is a result wherever a result is asked for; the unit conversion applies to its bound.
      "Below t" means certainly below: a plain v < t; '<b' when b <= t; '<=b' when b < t; '>b' and
      '>=b' never; "above t" is the mirror image ('>6.0' is above 5.0). A fall of at least f is
      certain only when the earlier result is plain, '>' or '>=' and the later one plain, '<' or
      '<=', and earlier bound - later bound (rounded to 0.001) >= f.
    - "Latest" is latest by collected_at including its time; two results on one day are ordered
      by their clock.
    - Death: a patient whose death_date is on or before as-of, or whose deceased column says
      true with no death_date (dead, date unknown), is in no check's population: never flagged.
      A death_date means dead whatever the deceased column says. A patient who dies after as-of
      is audited, and every prescription ends at the death date at the latest.
    - Codes are compared without the dot, ICD by prefix (K70.3, K71.7, K74.3-K74.6; 571.2, 571.5,
      571.6; N18.3-N18.6; 585.3-585.6), SNOMED-CT exactly. A condition (cirrhosis, CKD, leg
      neuropathy) is present on D when recorded_at <= D and not resolved_at <= D. A symptom
      (cramp, numbness) counts by its recorded_at only.
    - Rows the ingest quarantines are left out.

    diuretic_electrolyte_monitoring: a diuretic taken on as-of (active on it, or ended at most 30
      days before it, and at most its course's length: the refill gap of 28-day repeats), and no
      numeric serum/plasma/
      blood potassium, or no sodium, collected in [as_of - 365, as_of]. The reason starts with
      "baseline tests due" when the course running on as-of started on or after as_of - 14, else
      with "overdue" (issue #15). The course: the diuretics taken in that window, from the last one
      starting after more than 30 days with none (a late renewal, a switch or a restart soon after
      a stop keeps the first start; taken again after a longer break, a new one).
    cramps_cirrhosis: cirrhosis present on as-of and a cramp recorded in [as_of - 365, as_of].
    insulin_potassium_drop: an insulin prescription overlapping [as_of - 90, as_of]; insulin
      started = the earliest start of those prescriptions. In that window, a potassium certainly
      below 3.5 mmol/L collected on or after insulin started, or two consecutive potassium results
      (in time order), both in the window, at most 7 calendar days apart, the later one collected
      on or after insulin started (the earlier may be before), falling certainly by >= 1.0 mmol/L,
      results of one timestamp counting as their lowest, unless the falling run it belongs to
      (each result no higher than the one before, at most 7 days after it; seen from before the
      window) had a result certainly above 5.0 at most 7 days before the later one (a fall from
      hyperkalaemia is its correction, 6.6 -> 4.9 -> 3.8 included; '>6.0' is above). A diuretic
      overlapping [max(as_of - 90, insulin started), as_of] is named in the reason ("also on
      ..."). The reason ends with the latest potassium.
    cramps_medication_review: a cramp recorded in [as_of - 365, as_of] on a day when a
      diuretic, statin or beta-blocker was taken (active, or ended at most 30 days before that
      day and at most its course's length: the refill gap), the drug that may cause the cramp.
    cramps_electrolyte_check: for each cramp recorded in [as_of - 365, as_of], the window
      [cramp - 90, min(cramp + 30, as_of)] must hold a potassium, a calcium and a magnesium
      result, none below range (K < 3.5, Mg < 0.70 mmol/L; any low result in the window
      counts). Calcium is judged per collection day in the best form that day holds: ionised
      (< 1.15), else corrected as reported (< 2.10), else corrected from the total and a same-day
      albumin, nearest in time (ties: the higher albumin), total + 0.02 x (40 - albumin g/L)
      rounded to 2 decimals (< 2.10), else the total (< 2.10). Flag when any cramp's window lacks
      one of the three or holds a low one; the reason names each (analyte missing vs low).
    cramps_metabolic_workup: a cramp in [as_of - 365, as_of] and, in that same window, no
      result in at least one group: TSH; creatinine or eGFR; ALT, AST, bilirubin or albumin;
      glucose or HbA1c. The reason lists every missing group.
    numbness_neuropathy_workup: a numbness/paresthesia/peripheral-neuropathy code (R20.0,
      R20.2, G62.9, E11.42, G57.91, G57.92; SNOMED 44077006, 302226006) recorded in
      [as_of - 365, as_of], and no glucose-or-HbA1c result or no vitamin B12 result in that
      window (both are needed).
    nsaid_kidney_disease: a systemic NSAID (ibuprofen, naproxen, diclofenac; topical products
      excluded) active on as-of, where a row with neither end_date nor days_supply is a 90-day
      course (start + 90 >= as-of: started 90 days before as-of is active, 91 is not); and CKD
      stage 3 or worse (or CKD 4-5, ESRD or dialysis: N18.4-N18.6, I12.0, I13.2, Z99.2, Z49;
      585.4-585.6, V45.11, V56) present on as-of, a stage 3 code not recorded before a later CKD
      stage 1-2 code (N18.1, N18.2, 585.1, 585.2; re-staged), or the latest eGFR (by time, a censored one
      included) on or before as-of certainly below 60. The reason ends with the priority: high
      when CKD 4+/ESRD/dialysis is coded or that latest eGFR is certainly below 30.
    elderly_numbness_fall_risk: 65 or older on as-of in completed years (65th birthday on as-of
      counts), a leg numbness/neuropathy code (G57.91, G57.92, G62.9, E11.42; SNOMED 309538000
      numbness of foot) present on as-of, and either five or more distinct regular systemic
      drugs active on as-of (distinct by ingredient set, so a renewal of the same drug counts
      once; a combination product is one drug; not topical or local, not as-needed, and not a
      course planned for under 28 days from start to end unless the same drug ran from 28 days
      before as-of; 28 days counts) or an active fall-risk drug: diazepam, lorazepam, zolpidem,
      oxycodone, tramadol in any form; diphenhydramine, gabapentin, pregabalin, amitriptyline,
      nortriptyline, doxepin, duloxetine, carbamazepine only when not topical or local (a doxepin
      cream is not). Lithium is not a fall-risk drug.
    refractory_neuropathic_pain: a neuropathic pain indication recorded on or before as-of, at
      any time, resolved or not (numbness, neuropathy, neuralgia, radiculopathy: ICD-10-CM G50,
      G54-G63, R20, E10.42/E11.42, M54.1, M54.3, M54.4, M79.2, B02.2; SNOMED 44077006, 302226006,
      309538000; depression F32 is not one), and three or more distinct neuropathic-pain
      ingredients (gabapentin, pregabalin, duloxetine, amitriptyline, nortriptyline,
      carbamazepine, topical capsaicin, lidocaine patch) whose FIRST prescription (the earliest
      start on or before as-of) is in [as_of - 730, as_of] (730 days = 24 months for this as-of);
      a drug first started before that window and renewed in it is not a new trial; a restarted
      drug counts once; gabapentin and pregabalin are two drugs.
    """
    flags = evaluate(folder, as_of, PRIMARY)
    for label, reading in VARIANTS:
        other = evaluate(folder, as_of, reading)
        if set(other) != set(flags):
            diff = sorted(set(other) ^ set(flags))
            raise AssertionError(f"flags change under the reading '{label}': {diff}")
    return flags
