"""Background patients: ordinary chronic care, drawn from the seed, that no audit check should flag."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .events import BMP, DIABETIC, EMPTYABLE, LFT, Dx, Event, Lab, Rx, tests
from .shared import FIRST_DAY


@dataclass(frozen=True)
class Background:
    """A background patient: ordinary chronic care that no audit check should flag."""

    age: int
    sex: str
    creatinine: float  # baseline, umol/L
    conditions: frozenset[str]
    events: tuple[Event, ...]


CONDITION_CODES: dict[str, tuple[tuple[str, str], ...]] = {
    # first entry is the usual coding; the others appear now and then (legacy or SNOMED sources)
    "htn": (("I10", "ICD-10-CM"), ("401.9", "ICD-9-CM"), ("38341003", "SNOMED-CT")),
    "dm": (("E11.9", "ICD-10-CM"), ("250.00", "ICD-9-CM"), ("44054006", "SNOMED-CT")),
    "lipid": (("E78.5", "ICD-10-CM"), ("272.4", "ICD-9-CM")),
    "hypothyroid": (("E03.9", "ICD-10-CM"),),
    "gerd": (("K21.9", "ICD-10-CM"),),
    "oa": (("M17.11", "ICD-10-CM"), ("M19.90", "ICD-10-CM")),
    "ckd3": (("N18.30", "ICD-10-CM"),),
    "hf": (("I50.9", "ICD-10-CM"),),
    "depression": (("F32.A", "ICD-10-CM"),),
    "insomnia": (("G47.00", "ICD-10-CM"),),
    "asthma": (("J45.909", "ICD-10-CM"),),
}
ACUTE_CODES = (("J06.9", 10), ("N39.0", 7), ("M54.50", 30))  # code, days until resolved


def draw_age(rng: random.Random) -> int:
    """Background ages: adults 20-95, weighted so that the whole sample is about a third 65+."""
    band = rng.choices(((20, 39), (40, 64), (65, 95)), weights=(30, 38, 32))[0]
    return rng.randint(*band)


def draw_conditions(rng: random.Random, age: int) -> frozenset[str]:
    """Chronic conditions at rates that rise with age, as in a general practice list."""
    old = age >= 65
    mid = 40 <= age < 65
    odds = {
        "htn": 0.6 if old else 0.35 if mid else 0.12,
        "dm": 0.22 if old else 0.12 if mid else 0.04,
        "lipid": 0.35 if old else 0.2 if mid else 0.05,
        "hypothyroid": 0.06,
        "gerd": 0.09,
        "oa": 0.25 if old else 0.1 if mid else 0.0,
        "hf": 0.08 if old else 0.0,
        "depression": 0.07,
        "insomnia": 0.05,
        "asthma": 0.06,
    }
    return frozenset(name for name, p in odds.items() if rng.random() < p)


def ckd_epi_2021(creatinine: float, age: int, sex: str) -> float:
    """eGFR (mL/min/1.73m2) from creatinine in umol/L, CKD-EPI 2021, so labs stay consistent."""
    kappa, alpha = (0.7, -0.241) if sex == "F" else (0.9, -0.302)
    ratio = creatinine / 88.42 / kappa
    egfr = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.2 * 0.9938**age
    return egfr * 1.012 if sex == "F" else egfr


def baseline_creatinine(rng: random.Random, age: int, sex: str) -> float:
    """A plausible steady creatinine; older patients run higher, as eGFR falls with age."""
    low, high = (55, 85) if sex == "F" else (65, 100)
    value = rng.uniform(low, high)
    return value * rng.uniform(1.0, 1.3) if age >= 70 else value


def dx_event(rng: random.Random, condition: str, day: int) -> Dx:
    """The diagnosis row for a condition, mostly ICD-10-CM, sometimes legacy ICD-9 or SNOMED."""
    options = CONDITION_CODES[condition]
    code, system = options[0] if rng.random() < 0.8 else rng.choice(options)
    return Dx(code, day, system)


def chronic(rng: random.Random, drug: str, start: int) -> list[Rx]:
    """A long-term drug as exports show it: one open row, repeated fills, or a stopped course."""
    style = rng.random()
    if style < 0.45:
        return [Rx(drug, start)]
    if style < 0.8:
        return fills(rng, drug, start, rng.choice((30, 90, 90, 90)))
    return [Rx(drug, start, end=rng.randint(min(start + 60, -30), -30))]


def fills(rng: random.Random, drug: str, start: int, days: int) -> list[Rx]:
    """Repeated fills with the usual early/late jitter; no fill runs out within a day of as-of.

    Why: a fill ending exactly on as-of is active or not depending on an off-by-one reading of
    days_supply; the planted cases decide that boundary on purpose, the background never does.
    """
    rows = []
    day = start
    while day <= -2:
        if -2 <= day + days <= 2:
            day -= 4
        rows.append(Rx(drug, day, days=days))
        day += days + rng.randint(-6, 4)
    return rows


def background_drugs(
    rng: random.Random, conditions: frozenset[str], kidney_ok: bool
) -> list[tuple[str, int]]:
    """Long-term drugs for the conditions, with the guards that keep background patients quiet.

    Why the guards: NSAIDs only with healthy kidneys (nsaid_kidney_disease); at most one
    neuropathic-pain drug (refractory_neuropathic_pain). Diuretics and insulin are allowed because
    the lab schedule gives every such patient stable, recent electrolytes.
    """
    plan: list[str] = []
    if "htn" in conditions:
        plan.append("lisinopril" if rng.random() < 0.55 else "amlodipine")
        if rng.random() < 0.35:
            thiazide = rng.choice(("hydrochlorothiazide", "chlorthalidone", "indapamide", "lisinopril_hctz"))
            plan = [d for d in plan if not (thiazide == "lisinopril_hctz" and d == "lisinopril")]
            plan.append(thiazide)
        if rng.random() < 0.15:
            plan.append(rng.choice(("atenolol", "metoprolol", "bisoprolol")))
    if "hf" in conditions:
        plan += [
            rng.choice(("furosemide", "furosemide", "bumetanide", "torsemide")),
            rng.choice(("bisoprolol", "metoprolol")),
        ]
        if rng.random() < 0.4:
            plan.append("spironolactone")
    if "dm" in conditions:
        plan.append("metformin")
        if rng.random() < 0.25:
            plan.append("insulin_glargine")
            if rng.random() < 0.4:
                plan.append(rng.choice(("insulin_aspart", "insulin_lispro")))
    if "lipid" in conditions and rng.random() < 0.85:
        plan.append(rng.choice(("atorvastatin", "simvastatin", "rosuvastatin")))
    if "hypothyroid" in conditions:
        plan.append("levothyroxine")
    if "gerd" in conditions:
        plan.append("omeprazole")
    if "oa" in conditions:
        plan.append("paracetamol")
        if kidney_ok and rng.random() < 0.3:
            plan.append(rng.choice(("ibuprofen", "naproxen")))
    if "depression" in conditions and rng.random() < 0.5:
        plan.append("duloxetine")
    elif rng.random() < 0.03:
        plan.append("amitriptyline")
    if "insomnia" in conditions and rng.random() < 0.5:
        plan.append("zolpidem")
    return [(drug, rng.randint(FIRST_DAY + 10, -60)) for drug in dict.fromkeys(plan)]


def acute_courses(rng: random.Random, kidney_ok: bool) -> tuple[list[Dx], list[Rx]]:
    """Short illnesses with short courses: resolved diagnoses, end dates and days_supply."""
    dxs, rxs = [], []
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        code, lasting = rng.choice(ACUTE_CODES)
        day = rng.randint(FIRST_DAY + 5, -40)
        dxs.append(Dx(code, day, resolved=day + lasting))
        if code == "M54.50":
            drug = rng.choice(("ibuprofen", "naproxen")) if kidney_ok else "paracetamol"
            days = rng.choice((10, 14))
            style = rng.random()
            end = day + days if style < 0.7 else None
            rxs.append(Rx(drug, day, end=end, days=days if style > 0.3 else None))
    return dxs, rxs


def visit_days(rng: random.Random, conditions: frozenset[str]) -> list[int]:
    """Lab visit days: every few months for chronic patients, now and then for the others."""
    if conditions - {"asthma", "gerd"}:
        days, day = [], rng.randint(FIRST_DAY, FIRST_DAY + 150)
        while day <= -3:
            days.append(day)
            day += rng.randint(80, 210)
        return days
    return sorted(rng.sample(range(FIRST_DAY, -3), rng.choice((0, 1, 1, 2, 3))))


def visit_labs(rng: random.Random, day: int, conditions: frozenset[str], on_diuretic: bool) -> list[Lab]:
    """One visit's tests, chosen the way clinicians order them for these conditions."""
    dm = "dm" in conditions
    names: list[str] = []
    if rng.random() < (0.9 if conditions else 0.6):
        names += [t for t in BMP if t != "egfr" or rng.random() < 0.85]
    if dm:
        names += ["hba1c"] + ([] if "glucose" in names else ["glucose"])
    if rng.random() < 0.45:
        names.append("calcium")
    if rng.random() < (0.6 if "lipid" in conditions else 0.3):
        names += LFT
    if rng.random() < (0.8 if "hypothyroid" in conditions else 0.15):
        names.append("tsh")
    if rng.random() < (0.4 if on_diuretic else 0.08):
        names.append("magnesium")
    if rng.random() < (0.2 if dm else 0.06):
        names.append("vitamin_b12")
    if rng.random() < 0.03:
        names += ["urine_potassium", "urine_sodium"]
    return [background_lab(rng, name, day, dm) for name in names]


def background_lab(rng: random.Random, name: str, day: int, dm: bool) -> Lab:
    """A background result: diabetic glucose/HbA1c run high; a few results come back empty."""
    if name in EMPTYABLE and rng.random() < 0.006:
        return Lab(name, day, empty=True)
    if dm and name in DIABETIC:
        return Lab(name, day, round(rng.uniform(*DIABETIC[name]), 1))
    return Lab(name, day)


def make_background(rng: random.Random) -> Background:
    """One background patient: conditions, kidneys, drugs, diagnoses and lab visits."""
    age = draw_age(rng)
    sex = rng.choice("FM")
    conditions = draw_conditions(rng, age)
    creatinine = baseline_creatinine(rng, age, sex)
    egfr = ckd_epi_2021(creatinine, age, sex)
    if egfr < 60 and rng.random() < 0.6:
        conditions |= {"ckd3"}
    kidney_ok = egfr >= 72 and "ckd3" not in conditions  # margin for visit-to-visit noise
    drugs = background_drugs(rng, conditions, kidney_ok)
    events: list[Event] = []
    for condition in sorted(conditions):
        first_drug = min((day for _, day in drugs), default=-60)
        events.append(dx_event(rng, condition, rng.randint(FIRST_DAY, max(FIRST_DAY, first_drug))))
    for drug, start in drugs:
        events += chronic(rng, drug, start)
    acute_dx, acute_rx = acute_courses(rng, kidney_ok)
    events += [*acute_dx, *acute_rx]
    on_diuretic = any(drug in DIURETIC_KEYS for drug, _ in drugs)
    days = visit_days(rng, conditions)
    for day in days:
        events += visit_labs(rng, day, conditions, on_diuretic)
    if on_diuretic:  # a recent electrolyte check on a day of its own (no duplicate rows)
        free = [day for day in range(-300, -14) if day not in days]
        events += tests(rng.choice(free), "potassium", "sodium", "creatinine", "egfr")
    return Background(age, sex, creatinine, conditions, tuple(events))


DIURETIC_KEYS = frozenset({
    "furosemide", "bumetanide", "torsemide", "hydrochlorothiazide", "chlorthalidone",
    "indapamide", "metolazone", "spironolactone", "eplerenone", "amiloride", "triamterene",
    "lisinopril_hctz", "lasix", "aldactone",
})  # fmt: skip
