"""Write the seeded synthetic clinic export in sample_data/ and the answers it is built to produce.

Why this exists: the demo and the functional tests need a realistic export (a few hundred patients,
two years of history, the untidiness of real exports) in which every audit check has patients it
must flag, near-miss patients it must not flag, and a few broken rows the ingest must quarantine.
This script plants those patients deliberately, fills the rest of the clinic with background
patients who trigger nothing, writes the export, and then re-reads the files it wrote with a small
reference evaluator (plain Python, no SQL, its own code sets from VOCABULARY.md) to derive
``expected_flags.csv`` and ``quarantine_expected.csv``. It refuses to write those answer files
unless the evaluator agrees with what was planted, and unless the answer stays the same under the
other plausible readings of the details the issues leave open (see ``VARIANTS``).

The export carries the untidiness of issue #14 too: patients.csv has the optional ``death_date``
and ``deceased`` columns (patients dead before or on the as-of date, one dead on an unknown date),
labs.csv has censored values ('<2.5', '>60', '<= 5', '>2000'), text-only values ('haemolysed',
'see comment'), same-day results told apart by their time, and vital signs (weight, BMI, blood
pressure, with their LOINC codes) that no check uses. Those patients are appended after the main
draw (``appended_scenarios``) so that every earlier patient kept its random draws.

Issue #15 reviewed six definitions; ``issue15_scenarios`` plants a patient for each changed rule,
with near-miss controls, as the last patients with a third random stream: a low potassium on the
day insulin started (and one the day before it), a severe low the day before insulin (normal
priority), falls from 5.8 and '>6.0' (corrections, not drops), a diuretic shown beside insulin; a
diuretic started 14 and 15 days before as-of and a renewed one ('baseline tests due' vs
'overdue'); three neuropathic-pain drugs for depression only, a renewal of a drug first started
before the 24 months, an indication coded after the drugs; a low total calcium corrected by a
same-day albumin, without albumin, corrected to exactly 2.10, and a low ionised calcium; CKD
stage 4 and dialysis codes without an eGFR, open-ended NSAIDs started 90 and 91 days before
as-of; pregabalin, a doxepin cream and lithium in older patients with leg numbness, and
polypharmacy with eye drops, an as-required item and 27- and 28-day courses. An undated NSAID is
now a 90-day course, so the earlier NSAID scenarios start within 90 days of as-of.

Usage, from the repository root:
    python sample_data/generate.py                      # seed 20261120, 341 patients
    python sample_data/generate.py --seed 7 --patients 500 --out /tmp/export

Standard library only. The same seed and patient count give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 20)  # the export date of the sample, and the audit's as-of date
HISTORY_START = date(2024, 9, 1)
FIRST_DAY = (HISTORY_START - AS_OF).days  # -810; every event day is an offset from AS_OF
HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 20261120

DEM = "diuretic_electrolyte_monitoring"
CC = "cramps_cirrhosis"
IPD = "insulin_potassium_drop"
CMR = "cramps_medication_review"
CEC = "cramps_electrolyte_check"
CMW = "cramps_metabolic_workup"
NNW = "numbness_neuropathy_workup"
NKD = "nsaid_kidney_disease"
ENF = "elderly_numbness_fall_risk"
RNP = "refractory_neuropathic_pain"
CHECK_IDS = (DEM, CC, IPD, CMR, CEC, CMW, NNW, NKD, ENF, RNP)

HEADERS: dict[str, tuple[str, ...]] = {
    "patients.csv": ("patient_id", "birth_date", "sex", "death_date", "deceased"),
    "labs.csv": ("patient_id", "collected_at", "loinc_code", "test_name", "value", "unit"),
    "prescriptions.csv": (
        "patient_id",
        "drug_name",
        "rxnorm_code",
        "atc_code",
        "start_date",
        "end_date",
        "days_supply",
    ),
    "diagnoses.csv": ("patient_id", "code", "code_system", "recorded_at", "resolved_at"),
}


# --------------------------------------------------------------------------- vocabulary (writer)


@dataclass(frozen=True)
class LabTest:
    """How one test appears in exports: its LOINC codes, names, units and precision."""

    loincs: tuple[str, ...]
    names: tuple[str, ...]
    si_unit: str
    si_decimals: int = 1
    us_unit: str | None = None  # the conventional unit some laboratories report
    us_factor: float = 1.0  # SI value x factor = conventional value
    us_decimals: int = 1
    us_loinc: str | None = None  # the LOINC of the conventional (mass) variant, when distinct


LAB_TESTS: dict[str, LabTest] = {
    "potassium": LabTest(
        ("2823-3", "6298-4"), ("Potassium", "K", "Serum potassium"), "mmol/L", 1, "mEq/L", 1.0, 1
    ),
    "sodium": LabTest(("2951-2", "2947-0"), ("Sodium", "Na", "Serum sodium"), "mmol/L", 0, "mEq/L", 1.0, 0),
    "magnesium": LabTest(("2601-3",), ("Magnesium", "Mg"), "mmol/L", 2, "mg/dL", 2.431, 1, "19123-9"),
    "calcium": LabTest(("2000-8",), ("Calcium", "Ca"), "mmol/L", 2, "mg/dL", 4.008, 1, "17861-6"),
    "creatinine": LabTest(("2160-0", "38483-4"), ("Creatinine",), "umol/L", 0, "mg/dL", 1 / 88.42, 2),
    "egfr": LabTest(("98979-8", "62238-1", "33914-3"), ("eGFR",), "mL/min/1.73m2", 0),
    "tsh": LabTest(("3016-3",), ("TSH",), "mIU/L", 2),
    "alt": LabTest(("1742-6",), ("ALT",), "U/L", 0),
    "ast": LabTest(("1920-8",), ("AST",), "U/L", 0),
    "bilirubin": LabTest(("1975-2",), ("Bilirubin, total",), "umol/L", 0),
    "albumin": LabTest(("1751-7",), ("Albumin",), "g/L", 0),
    # Issue #15: ionised calcium (LOINC 1995-0, serum/plasma), judged before total calcium.
    "calcium_ionized": LabTest(("1995-0",), ("Ionised calcium",), "mmol/L", 2),
    "glucose": LabTest(("2345-7",), ("Glucose",), "mmol/L", 1),
    "hba1c": LabTest(("4548-4",), ("HbA1c",), "%", 1),
    "vitamin_b12": LabTest(("2132-9",), ("Vitamin B12",), "pmol/L", 0),
    # VOCABULARY.md lists 2828-8, which fails the LOINC check digit (the ingest would quarantine
    # every such row); 2828-2 is LOINC's "Potassium [Moles/volume] in Urine".
    "urine_potassium": LabTest(("2828-2",), ("Urine potassium",), "mmol/L", 0),
    "urine_sodium": LabTest(("2955-3",), ("Urine sodium",), "mmol/L", 0),
    # Vital signs that EHR exports put in the same lab file: no check uses them.
    "body_weight": LabTest(("29463-7",), ("Body weight",), "kg", 1),
    "bmi": LabTest(("39156-5",), ("Body mass index",), "kg/m2", 1),
    "systolic_bp": LabTest(("8480-6",), ("Systolic blood pressure",), "mm[Hg]", 0),
    "diastolic_bp": LabTest(("8462-4",), ("Diastolic blood pressure",), "mm[Hg]", 0),
}
VITALS = ("body_weight", "bmi", "systolic_bp", "diastolic_bp")

# Normal ranges (SI) for drawn values, kept clear of every threshold the checks use, so that
# background values can never flag and unit rounding can never move a value across a limit.
# Potassium spans at most 0.9 mmol/L, so no two background results can "drop" by 1.0.
NORMAL: dict[str, tuple[float, float]] = {
    "potassium": (3.7, 4.6),
    "sodium": (136, 144),
    "magnesium": (0.76, 0.98),
    "calcium": (2.2, 2.55),
    "tsh": (0.6, 3.8),
    "alt": (10, 42),
    "ast": (12, 38),
    "bilirubin": (5, 19),
    "albumin": (36, 47),
    "glucose": (4.3, 6.0),
    "hba1c": (5.0, 5.8),
    "vitamin_b12": (190, 620),
    "urine_potassium": (25, 90),
    "urine_sodium": (40, 180),
    "body_weight": (52, 108),
    "bmi": (19, 36),
    "systolic_bp": (104, 152),
    "diastolic_bp": (62, 94),
}
DIABETIC: dict[str, tuple[float, float]] = {"glucose": (6.4, 11.5), "hba1c": (6.3, 8.6)}
BMP = ("potassium", "sodium", "creatinine", "egfr", "glucose")
LFT = ("alt", "ast", "bilirubin", "albumin")
WORKUP = (*BMP[:2], "calcium", "magnesium", *BMP[2:], *LFT, "tsh")
EMPTYABLE = ("tsh", "alt", "ast", "bilirubin", "albumin", "vitamin_b12", "hba1c")


@dataclass(frozen=True)
class Drug:
    """A prescribable product as exports name it: drug_name, RxNorm ingredient RxCUI, ATC."""

    name: str
    rxcui: str = ""
    atc: str = ""


DRUGS: dict[str, Drug] = {
    "furosemide": Drug("furosemide 40 mg tablet", "4603", "C03CA01"),
    "bumetanide": Drug("bumetanide 1 mg tablet", "1808", "C03CA02"),
    "torsemide": Drug("torsemide 20 mg tablet", "38413", "C03CA04"),
    "hydrochlorothiazide": Drug("hydrochlorothiazide 25 mg tablet", "5487", "C03AA03"),
    "chlorthalidone": Drug("chlorthalidone 25 mg tablet", "2409", "C03BA04"),
    "indapamide": Drug("indapamide 2.5 mg tablet", "5764", "C03BA11"),
    "metolazone": Drug("metolazone 5 mg tablet", "6916", "C03BA08"),
    "spironolactone": Drug("spironolactone 25 mg tablet", "9997", "C03DA01"),
    "eplerenone": Drug("eplerenone 25 mg tablet", "298869", "C03DA04"),
    "amiloride": Drug("amiloride 5 mg tablet", "644", "C03DB01"),
    "triamterene": Drug("triamterene 50 mg capsule", "10763", "C03DB02"),
    "lisinopril_hctz": Drug("lisinopril / hydrochlorothiazide 20/12.5 mg", "", "C09BA03"),
    "lasix": Drug("Lasix 40 mg tablet"),
    "aldactone": Drug("Aldactone 25 mg tablet"),
    "insulin_glargine": Drug("insulin glargine 100 units/mL pen", "274783", "A10AE04"),
    "insulin_lispro": Drug("insulin lispro 100 units/mL pen", "86009", "A10AB04"),
    "insulin_aspart": Drug("insulin aspart 100 units/mL pen", "51428", "A10AB05"),
    "atorvastatin": Drug("atorvastatin 20 mg tablet", "83367", "C10AA05"),
    "simvastatin": Drug("simvastatin 40 mg tablet", "36567", "C10AA01"),
    "rosuvastatin": Drug("rosuvastatin 10 mg tablet", "301542", "C10AA07"),
    "metoprolol": Drug("metoprolol 50 mg tablet", "6918", "C07AB02"),
    "atenolol": Drug("atenolol 50 mg tablet", "1202", "C07AB03"),
    "bisoprolol": Drug("bisoprolol 5 mg tablet", "19484", "C07AB07"),
    "ibuprofen": Drug("ibuprofen 400 mg tablet", "5640", "M01AE01"),
    "naproxen": Drug("naproxen 500 mg tablet", "7258", "M01AE02"),
    "diclofenac": Drug("diclofenac 50 mg tablet", "3355", "M01AB05"),
    "diclofenac_gel": Drug("diclofenac 1% gel", "", "M02AA15"),
    "baclofen": Drug("baclofen 10 mg tablet", "1292", "M03BX01"),
    "albumin": Drug("albumin human 20% solution for infusion", "", "B05AA01"),
    "diazepam": Drug("diazepam 5 mg tablet", "3322", "N05BA01"),
    "lorazepam": Drug("lorazepam 1 mg tablet", "6470", "N05BA06"),
    "zolpidem": Drug("zolpidem 10 mg tablet", "39993", "N05CF02"),
    "oxycodone": Drug("oxycodone 5 mg tablet", "7804", "N02AA05"),
    "tramadol": Drug("tramadol 50 mg capsule", "10689", "N02AX02"),
    "diphenhydramine": Drug("diphenhydramine 25 mg capsule", "3498", "R06AA02"),
    "gabapentin": Drug("gabapentin 300 mg capsule", "25480", "N02BF01"),
    "pregabalin": Drug("pregabalin 75 mg capsule", "187832", "N02BF02"),
    "duloxetine": Drug("duloxetine 60 mg capsule", "72625", "N06AX21"),
    "amitriptyline": Drug("amitriptyline 10 mg tablet", "704", "N06AA09"),
    "nortriptyline": Drug("nortriptyline 25 mg capsule", "7531", "N06AA10"),
    "carbamazepine": Drug("carbamazepine 200 mg tablet", "2002", "N03AF01"),
    "capsaicin": Drug("capsaicin 0.075% cream", "1992", "M02AB01"),
    "lidocaine_patch": Drug("lidocaine 5% patch", "6387", "N01BB02"),
    "metformin": Drug("metformin 500 mg tablet", "6809", "A10BA02"),
    "lisinopril": Drug("lisinopril 10 mg tablet", "29046", "C09AA03"),
    "amlodipine": Drug("amlodipine 5 mg tablet", "17767", "C08CA01"),
    "omeprazole": Drug("omeprazole 20 mg capsule", "7646", "A02BC01"),
    "levothyroxine": Drug("levothyroxine 50 microgram tablet", "10582", "H03AA01"),
    "paracetamol": Drug("paracetamol 500 mg tablet", "161", "N02BE01"),
    # Issue #15 (fall risk and polypharmacy): local forms, as-needed items, a lithium salt, a course.
    "paracetamol_prn": Drug("paracetamol 500 mg tablets as required", "161", "N02BE01"),
    "latanoprost_eye_drops": Drug("latanoprost 50 micrograms/mL eye drops", "43611", "S01EE01"),
    "doxepin_cream": Drug("doxepin 5% cream", "3638", "D04AX01"),
    "lithium": Drug("lithium carbonate 400 mg modified-release tablet", "42351", "N05AN01"),
    "prednisolone": Drug("prednisolone 5 mg tablet", "8638", "H02AB06"),
}
# Drugs a background patient may take only under the conditions background_drugs() enforces.
GUARDED = frozenset({
    "furosemide", "bumetanide", "torsemide", "hydrochlorothiazide", "chlorthalidone",
    "indapamide", "spironolactone", "lisinopril_hctz", "insulin_glargine", "insulin_lispro",
    "insulin_aspart", "ibuprofen", "naproxen", "amitriptyline", "duloxetine",
})  # fmt: skip


# --------------------------------------------------------------------------- events and scenarios


@dataclass(frozen=True)
class Dx:
    """A diagnosis recorded ``day`` days from the export date (negative = before it)."""

    code: str
    day: int
    system: str = "ICD-10-CM"
    resolved: int | None = None
    undotted: bool | None = None  # None: the writer decides, as real exports vary


@dataclass(frozen=True)
class Rx:
    """A prescription; with neither ``end`` nor ``days`` it is ongoing."""

    drug: str
    start: int
    end: int | None = None
    days: int | None = None
    ident: str | None = None  # "both", "rxnorm", "atc" or "name"; None: the writer decides


@dataclass(frozen=True)
class Lab:
    """A lab result; without ``value`` the writer draws a normal one in the patient's units."""

    test: str
    day: int
    value: float | None = None
    unit: str | None = None  # unit of an explicit value; default the SI unit
    ident: str | None = None  # "both", "loinc" or "name"; None: the writer decides
    clock: str | None = None  # "HH:MM" forces a datetime, "" a plain date
    loinc: str | None = None  # a specific LOINC (e.g. the whole-blood one)
    empty: bool = False  # test done, result not numeric
    text: str | None = None  # the value exactly as exported: censored ('<2.5') or text ('haemolysed')


Event = Dx | Rx | Lab


@dataclass(frozen=True)
class Scenario:
    """A planted patient: the check it was built for and every check that must flag it."""

    key: str
    check: str
    flags: frozenset[str]
    age: int
    events: tuple[Event, ...]
    birth: date | None = None
    death: int | None = None  # day of death (offset from the export date), None: no date known
    deceased: str = ""  # the deceased column as exported ("true", "false" or empty)


def plant(
    check: str,
    key: str,
    flags: Iterable[str],
    age: int,
    *parts: Event | list[Event],
    birth: date | None = None,
    death: int | None = None,
    deceased: str = "",
) -> Scenario:
    """Build a scenario from events and event lists, so definitions read like a case note."""
    events: list[Event] = []
    for part in parts:
        events.extend(part if isinstance(part, list) else [part])
    return Scenario(key, check, frozenset(flags), age, tuple(events), birth, death, deceased)


def day_of(iso: str) -> int:
    """The day offset of a calendar date, so scenarios can be written in the dates a rule names."""
    return (date.fromisoformat(iso) - AS_OF).days


def result(test: str, day: int, text: str, unit: str | None = None, clock: str | None = None) -> Lab:
    """A result exported as text: censored ('<2.5', '<= 5') or not a number ('haemolysed')."""
    return Lab(test, day, unit=unit, clock=clock, text=text)


def tests(
    day: int,
    *names: str,
    ident: str | None = None,
    clock: str | None = None,
    loinc: str | None = None,
    **values: float | tuple[float, str],
) -> list[Lab]:
    """Tests drawn together on one day; a value is SI unless given as (value, unit)."""
    ordered = [*names, *(name for name in values if name not in names)]
    labs = []
    for name in ordered:
        given = values.get(name)
        value, unit = given if isinstance(given, tuple) else (given, None)
        labs.append(Lab(name, day, None if value is None else float(value), unit, ident, clock, loinc))
    return labs


def workup(day: int, omit: Iterable[str] = (), **values: float | tuple[float, str]) -> list[Lab]:
    """The full cramp work-up (electrolytes, kidney, liver, thyroid, glucose) minus ``omit``."""
    left_out = set(omit)
    return tests(day, *(name for name in WORKUP if name not in left_out), **values)


def refills(drug: str, start: int, days: int) -> list[Rx]:
    """Back-to-back fills carrying only days_supply, as pharmacy-fed exports show them."""
    return [Rx(drug, day, days=days) for day in range(start, 0, days)]


def diuretic_scenarios() -> list[Scenario]:
    """Diuretic users at the 365-day edge, on every recognition route, and at the population edges.

    No scenario here can start after as-of: the export date is the as-of date, and a start date
    after the export is quarantined, so that control lives in the spec tests only.
    """
    c = DEM
    return [
        plant(c, "dem_furosemide_no_recent_labs", {DEM}, 74, Dx("I10", -700), Dx("I50.9", -520),
              Rx("lisinopril", -700), Rx("furosemide", -480), tests(-430, *BMP)),
        plant(c, "dem_labs_366_days_before", {DEM}, 68, Dx("I10", -640),
              Rx("hydrochlorothiazide", -600), tests(-520, *BMP), tests(-366, *BMP, clock="16:40")),
        plant(c, "dem_sodium_missing", {DEM}, 77, Dx("I50.9", -400), Rx("spironolactone", -300),
              tests(-420, *BMP), tests(-60, "potassium", "creatinine", "egfr")),
        plant(c, "dem_urine_potassium_only", {DEM}, 63, Dx("I10", -500),
              Rx("chlorthalidone", -250),
              tests(-40, "sodium", "urine_potassium", "creatinine", "egfr")),
        plant(c, "dem_brand_lasix_no_labs", {DEM}, 81, Dx("I50.9", -230),
              Rx("lasix", -200, ident="name"), tests(-450, *BMP)),
        plant(c, "dem_brand_aldactone_no_labs", {DEM}, 58, Dx("I10", -300),
              Rx("aldactone", -150, ident="name")),
        plant(c, "dem_combination_product", {DEM}, 66, Dx("I10", -700),
              Rx("lisinopril_hctz", -380), tests(-400, *BMP)),
        plant(c, "dem_days_supply_still_active", {DEM}, 55, Dx("I10", -200),
              Rx("indapamide", -130, days=90), Rx("indapamide", -40, days=90)),
        plant(c, "dem_rxnorm_code_only", {DEM}, 79, Dx("I50.9", -100),
              Rx("torsemide", -90, ident="rxnorm"), tests(-420, *BMP)),
        plant(c, "dem_urine_sodium_only", {DEM}, 72, Dx("I50.9", -220),
              Rx("bumetanide", -200, ident="atc"),
              tests(-50, "potassium", "urine_sodium", "creatinine")),
        plant(c, "dem_end_date_on_as_of", {DEM}, 71, Dx("I10", -400),
              Rx("hydrochlorothiazide", -180, end=0), tests(-500, *BMP)),
        plant(c, "dem_labs_365_days_before", (), 69, Dx("I10", -700),
              refills("hydrochlorothiazide", -640, 90), tests(-365, *BMP, clock="10:05")),
        plant(c, "dem_ended_day_before_as_of", (), 70, Dx("I50.9", -320),
              Rx("furosemide", -300, end=-1)),
        plant(c, "dem_ongoing_with_labs", (), 62, Dx("I10", -420), Rx("amiloride", -400),
              tests(-120, *BMP)),
        plant(c, "dem_days_supply_ran_out", (), 60, Dx("I10", -250),
              Rx("metolazone", -200, days=30)),
        plant(c, "dem_meq_units_names_only", (), 73, Dx("I50.9", -330), Rx("eplerenone", -300),
              tests(-80, ident="name", potassium=(4.4, "mEq/L"), sodium=(139, "mEq/L"))),
        plant(c, "dem_whole_blood_loinc_only", (), 67, Dx("I10", -600),
              refills("triamterene", -560, 90),
              tests(-200, ident="loinc", loinc="6298-4", potassium=4.1),
              tests(-200, ident="loinc", loinc="2947-0", sodium=140)),
    ]  # fmt: skip


def cirrhosis_scenarios() -> list[Scenario]:
    """Cirrhosis with cramps on every code route; each also meets the other three cramp checks."""
    c = CC
    return [
        plant(c, "cc_alcoholic_cirrhosis_on_diuretics", {CC, CMR}, 61,
              Dx("K70.30", -600, undotted=False), Rx("spironolactone", -580),
              Rx("furosemide", -580), Dx("R25.2", -120), tests(-300, *BMP), workup(-130),
              tests(-40, *BMP, "albumin")),
        plant(c, "cc_codes_without_dots", {CC, CEC}, 55, Dx("K70.31", -400, undotted=True),
              Dx("R25.2", -200, undotted=True), Rx("omeprazole", -380),
              workup(-210, omit=("magnesium",))),
        plant(c, "cc_snomed_cramp", {CC, CMR, CEC}, 67, Dx("K74.60", -500),
              Dx("55300003", -90, "SNOMED-CT"), Rx("spironolactone", -480),
              tests(-100, *BMP, *LFT, "tsh")),
        plant(c, "cc_icd9_codes_low_potassium", {CC, CEC}, 72, Dx("571.5", -650, "ICD-9-CM"),
              Dx("729.82", -150, "ICD-9-CM"), Rx("baclofen", -140),
              workup(-155, potassium=3.2)),
        plant(c, "cc_snomed_cirrhosis_two_cramps", {CC}, 59, Dx("19943007", -300, "SNOMED-CT"),
              Dx("R25.2", -250), workup(-255), Dx("R25.2", -60), workup(-65),
              Rx("albumin", -58, end=-58)),
        plant(c, "cc_toxic_cirrhosis_sparse_labs", {CC, CMR, CEC, CMW}, 64, Dx("K71.7", -350),
              Rx("furosemide", -340), Dx("R25.2", -100), tests(-200, *BMP, "alt"),
              tests(-20, *BMP)),
        plant(c, "cc_other_cirrhosis_beta_blocker", {CC, CMR}, 70, Dx("K74.69", -420),
              Rx("metoprolol", -600), Dx("R25.2", -200), workup(-190)),
        plant(c, "cc_icd9_alcoholic_no_recent_labs", {CC, CEC, CMW}, 66,
              Dx("571.2", -500, "ICD-9-CM"), Dx("R25.2", -75), tests(-400, *BMP, *LFT)),
        plant(c, "cc_resolved_cirrhosis", (), 57, Dx("K74.60", -700, resolved=-400),
              Dx("R25.2", -110), workup(-105)),
        plant(c, "cc_cramp_outside_window", (), 68, Dx("K70.30", -600),
              Rx("spironolactone", -560), Dx("R25.2", -400), tests(-60, *BMP)),
        plant(c, "cc_cirrhosis_without_cramp", (), 62, Dx("K74.60", -300),
              Rx("spironolactone", -290), Rx("furosemide", -290), tests(-30, *BMP, *LFT)),
    ]  # fmt: skip


def diabetes(insulin: str = "insulin_glargine", start: int = -600, end: int | None = None) -> list[Event]:
    """Type 2 diabetes on metformin and an insulin, the background of the insulin scenarios."""
    return [Dx("E11.9", -780), Rx("metformin", -780), Rx(insulin, start, end)]


def insulin_scenarios() -> list[Scenario]:
    """Insulin users with low potassium or a fast fall, and near misses on each threshold."""
    c = IPD
    return [
        plant(c, "ipd_low_potassium", {IPD}, 58, diabetes(), tests(-40, *BMP, potassium=3.2)),
        plant(c, "ipd_drop_into_low", {IPD}, 66, diabetes(), Rx("insulin_lispro", -500),
              tests(-30, potassium=4.6), tests(-28, potassium=3.4)),
        plant(c, "ipd_drop_1_1_in_3_days", {IPD}, 49, diabetes("insulin_aspart", -300),
              tests(-60, potassium=4.9), tests(-57, potassium=3.8)),
        plant(c, "ipd_drop_exactly_1_0_next_day", {IPD}, 71, diabetes(),
              tests(-20, clock="", potassium=4.5), tests(-19, clock="", potassium=3.5)),
        plant(c, "ipd_drop_7_days_apart", {IPD}, 62, diabetes(),
              tests(-50, clock="", potassium=5.0), tests(-43, clock="", potassium=3.9)),
        plant(c, "ipd_low_potassium_meq_by_name", {IPD}, 77, diabetes("insulin_lispro", -400),
              tests(-15, ident="name", potassium=(3.3, "mEq/L"))),
        plant(c, "ipd_potassium_exactly_3_5", (), 64, diabetes(),
              tests(-70, potassium=3.9), tests(-25, potassium=3.5)),
        plant(c, "ipd_drop_0_9", (), 53, diabetes(),
              tests(-35, potassium=4.4), tests(-33, potassium=3.5)),
        plant(c, "ipd_drop_over_8_days", (), 60, diabetes("insulin_aspart", -400),
              tests(-60, potassium=4.9), tests(-52, potassium=3.6)),
        plant(c, "ipd_insulin_stopped_before_lookback", (), 67,
              diabetes("insulin_glargine", -500, -150), tests(-40, potassium=3.2)),
        plant(c, "ipd_low_potassium_without_insulin", (), 57, Dx("I10", -500),
              Rx("hydrochlorothiazide", -450), tests(-30, *BMP, potassium=3.1)),
        plant(c, "ipd_low_potassium_before_lookback", (), 69, diabetes(),
              tests(-200, potassium=3.2), tests(-60, potassium=4.1), tests(-10, potassium=4.3)),
    ]  # fmt: skip


def medication_review_scenarios() -> list[Scenario]:
    """Cramps while on a statin, beta-blocker or diuretic; cramps after the statin was stopped."""
    c = CMR
    return [
        plant(c, "cmr_statin", {CMR}, 63, Dx("E78.5", -700), Rx("atorvastatin", -700),
              Dx("R25.2", -150), workup(-145)),
        plant(c, "cmr_beta_blocker", {CMR}, 71, Dx("I10", -650), Rx("metoprolol", -640),
              Dx("R25.2", -90), workup(-100)),
        plant(c, "cmr_thiazide", {CMR}, 76, Dx("I10", -700), Rx("hydrochlorothiazide", -680),
              Dx("55300003", -200, "SNOMED-CT"), workup(-205), tests(-40, *BMP)),
        plant(c, "cmr_statin_and_beta_blocker", {CMR}, 69, Dx("I10", -600), Dx("E78.5", -600),
              Rx("simvastatin", -590), Rx("bisoprolol", -590), Dx("R25.2", -60, undotted=True),
              workup(-55)),
        plant(c, "cmr_rosuvastatin_atenolol", {CMR}, 66, Dx("I10", -560), Rx("atenolol", -500),
              Rx("rosuvastatin", -400), Dx("R25.2", -250), workup(-240)),
        plant(c, "cmr_statin_stopped_before_lookback", (), 58, Dx("E78.5", -720),
              Rx("simvastatin", -700, end=-420), Dx("R25.2", -130), workup(-125)),
        plant(c, "cmr_other_drugs_only", (), 52, Dx("I10", -600), Rx("lisinopril", -590),
              Rx("amlodipine", -400), Dx("R25.2", -170), workup(-175)),
    ]  # fmt: skip


def electrolyte_scenarios() -> list[Scenario]:
    """Cramps with missing or low K/Ca/Mg around them, and the edges of the -90/+30 day window."""
    c = CEC
    return [
        plant(c, "cec_no_electrolytes_near_cramp", {CEC}, 45, Dx("R25.2", -200),
              tests(-380, *BMP), workup(-30, omit=("magnesium",))),
        plant(c, "cec_magnesium_missing", {CEC}, 52, Dx("K21.9", -500), Rx("omeprazole", -500),
              Dx("R25.2", -100), workup(-110, omit=("magnesium",))),
        plant(c, "cec_low_magnesium", {CEC}, 61, Dx("R25.2", -150), workup(-140, magnesium=0.62)),
        plant(c, "cec_low_calcium_mg_dl", {CEC}, 48, Dx("R25.2", -80),
              workup(-85, calcium=(8.0, "mg/dL"), magnesium=(1.9, "mg/dL"))),
        plant(c, "cec_low_potassium", {CEC}, 39, Dx("R25.2", -220), workup(-215, potassium=3.3)),
        plant(c, "cec_low_magnesium_mg_dl", {CEC}, 56, Dx("K21.9", -600), Rx("omeprazole", -600),
              Dx("R25.2", -60), workup(-58, magnesium=(1.5, "mg/dL"))),
        plant(c, "cec_labs_120_days_before", {CEC}, 44, Dx("R25.2", -100), workup(-220)),
        plant(c, "cec_labs_45_days_after", {CEC}, 50, Dx("R25.2", -150), workup(-105)),
        plant(c, "cec_labs_60_days_before", (), 47, Dx("R25.2", -150), workup(-210)),
        plant(c, "cec_labs_20_days_after", (), 53, Rx("paracetamol", -300), Dx("R25.2", -200),
              workup(-180)),
        plant(c, "cec_magnesium_exactly_0_70", (), 58, Dx("R25.2", -120),
              workup(-118, magnesium=0.70)),
        plant(c, "cec_conventional_units_normal", (), 64, Dx("R25.2", -90),
              workup(-92, potassium=(4.1, "mEq/L"), magnesium=(1.8, "mg/dL"),
                     calcium=(9.0, "mg/dL"))),
    ]  # fmt: skip


def metabolic_scenarios() -> list[Scenario]:
    """Cramps lacking one work-up group each, and the smallest work-ups that still count."""
    c = CMW
    return [
        plant(c, "cmw_no_thyroid_test", {CMW}, 41, tests(-420, "tsh"), Dx("R25.2", -140),
              workup(-135, omit=("tsh",))),
        plant(c, "cmw_no_liver_test", {CMW}, 57, Dx("R25.2", -100), workup(-95, omit=LFT)),
        plant(c, "cmw_no_kidney_test", {CMW}, 35, Dx("R25.2", -160),
              workup(-150, omit=("creatinine", "egfr")), tests(-150, "hba1c")),
        plant(c, "cmw_no_glucose_or_hba1c", {CMW}, 46, Dx("R25.2", -120),
              workup(-118, omit=("glucose",))),
        plant(c, "cmw_no_labs_at_all", {CEC, CMW}, 33, Dx("R25.2", -90)),
        plant(c, "cmw_one_test_per_group", (), 60, Dx("R25.2", -130),
              tests(-128, "potassium", "calcium", "magnesium", "egfr", "bilirubin", "hba1c",
                    "tsh")),
        plant(c, "cmw_thyroid_test_300_days_before", (), 55, tests(-300, "tsh"),
              Dx("R25.2", -100), workup(-95, omit=("tsh", "ast", "bilirubin", "albumin"))),
        plant(c, "cmw_albumin_as_liver_test", (), 38, Dx("R25.2", -70),
              tests(-72, "potassium", "calcium", "magnesium", "creatinine", "glucose", "albumin",
                    "tsh")),
    ]  # fmt: skip


def numbness_scenarios() -> list[Scenario]:
    """Numbness or neuropathy lacking glucose/HbA1c or B12, on each code route, and near misses."""
    c = NNW
    return [
        plant(c, "nnw_paresthesia_no_b12", {NNW}, 52, Dx("R20.2", -120),
              tests(-100, "hba1c", "glucose")),
        plant(c, "nnw_polyneuropathy_no_glucose", {NNW}, 47, Dx("G62.9", -200),
              tests(-190, "vitamin_b12")),
        plant(c, "nnw_snomed_numbness_no_tests", {NNW}, 38, Dx("44077006", -80, "SNOMED-CT")),
        plant(c, "nnw_diabetic_neuropathy_old_b12", {NNW}, 61, Dx("E11.9", -780),
              Rx("metformin", -780), tests(-450, "vitamin_b12"), Dx("E11.42", -150),
              tests(-60, "hba1c", *BMP)),
        plant(c, "nnw_skin_anaesthesia_no_b12", {NNW}, 44, Dx("R20.0", -60),
              tests(-50, "glucose")),
        plant(c, "nnw_leg_mononeuropathy_no_b12", {NNW}, 59, tests(-260, *BMP),
              Dx("G57.91", -240)),
        plant(c, "nnw_complete_workup", (), 50, Dx("R20.2", -100),
              tests(-95, "glucose", "vitamin_b12")),
        plant(c, "nnw_numbness_outside_lookback", (), 45, Dx("R20.2", -420)),
        plant(c, "nnw_snomed_nerve_disease_complete", (), 63, Dx("302226006", -180, "SNOMED-CT"),
              tests(-170, "hba1c", "vitamin_b12")),
        plant(c, "nnw_left_leg_mononeuropathy_complete", (), 55, Dx("G57.92", -140),
              tests(-130, "glucose", "vitamin_b12")),
    ]  # fmt: skip


def nsaid_scenarios() -> list[Scenario]:
    """Systemic NSAIDs with CKD 3+ (each code route) or a low latest eGFR, and near misses.

    Issue #15 made an NSAID with no end date and no days supply a 90-day course: the open-ended
    NSAIDs here start within 90 days of as-of (naproxen -60 and diclofenac -75 were -150 and -200,
    ibuprofen -70 was -100, the recovered-eGFR control's naproxen -80 was -120), so each scenario
    still tests what it was built for. Moving a start date changes no random draw.
    """
    c = NKD
    return [
        plant(c, "nkd_ibuprofen_ckd3_code", {NKD}, 74, Dx("N18.30", -500), Dx("M17.11", -300),
              Rx("ibuprofen", -60), tests(-90, "potassium", "sodium", creatinine=130)),
        plant(c, "nkd_naproxen_ckd4_undotted", {NKD}, 69, Dx("N18.4", -300, undotted=True),
              tests(-100, egfr=24), Rx("naproxen", -20, days=30)),
        plant(c, "nkd_diclofenac_icd9_ckd", {NKD}, 80, Dx("585.3", -700, "ICD-9-CM"),
              Rx("diclofenac", -75), tests(-30, egfr=49)),
        plant(c, "nkd_ibuprofen_snomed_ckd", {NKD}, 71, Dx("433144002", -400, "SNOMED-CT"),
              Rx("ibuprofen", -70)),
        plant(c, "nkd_naproxen_low_egfr_no_code", {NKD}, 66, Dx("M19.90", -400),
              tests(-300, egfr=71), Rx("naproxen", -60), tests(-45, egfr=48)),
        plant(c, "nkd_ibuprofen_ckd5", {NKD}, 77, Dx("N18.5", -200), tests(-150, egfr=12),
              Rx("ibuprofen", -10, days=20)),
        plant(c, "nkd_topical_diclofenac_ckd", (), 78, Dx("N18.30", -400),
              Rx("diclofenac_gel", -100, ident="both"), tests(-50, egfr=45)),
        plant(c, "nkd_ibuprofen_ckd2", (), 68, Dx("N18.2", -300), Rx("ibuprofen", -90),
              tests(-60, egfr=72)),
        plant(c, "nkd_earlier_low_egfr_recovered", (), 73, tests(-500, egfr=55),
              Rx("naproxen", -80), tests(-100, egfr=66)),
        plant(c, "nkd_nsaid_stopped", (), 76, Dx("N18.4", -300), Rx("naproxen", -200, end=-150),
              tests(-100, egfr=26)),
        plant(c, "nkd_ckd_without_nsaid", (), 81, Dx("N18.30", -500), Rx("paracetamol", -400),
              tests(-70, egfr=44)),
    ]  # fmt: skip


def elderly_scenarios() -> list[Scenario]:
    """Older patients with leg numbness on many drugs or a fall-risk drug, and near misses."""
    c = ENF
    six = [
        Rx("paracetamol", -300),
        Rx("omeprazole", -300),
        Rx("amlodipine", -500),
        Rx("lisinopril", -500),
        Rx("atorvastatin", -500),
    ]
    return [
        plant(c, "enf_polypharmacy", {ENF}, 78, Dx("E11.9", -700), Rx("metformin", -700),
              Rx("lisinopril", -600), Rx("amlodipine", -500), Rx("atorvastatin", -600),
              Rx("omeprazole", -300), Rx("levothyroxine", -700), Dx("G62.9", -150),
              tests(-100, "hba1c", "glucose", "vitamin_b12")),
        plant(c, "enf_zolpidem", {ENF}, 82, Dx("E11.9", -800), Rx("metformin", -800),
              Dx("E11.42", -200), tests(-180, "hba1c", "vitamin_b12"), Rx("zolpidem", -90)),
        plant(c, "enf_tramadol", {ENF}, 70, Rx("paracetamol", -100), Dx("G57.91", -100),
              tests(-95, "glucose", "vitamin_b12"), Rx("tramadol", -15, days=30)),
        plant(c, "enf_turns_65_on_as_of", {ENF}, 65, Dx("G62.9", -90), Rx("lorazepam", -80),
              tests(-85, "glucose", "vitamin_b12"), birth=date(1961, 11, 20)),
        plant(c, "enf_sedating_antihistamine", {ENF, NNW}, 88, Dx("E11.9", -780),
              Rx("metformin", -780), Rx("diphenhydramine", -200), Dx("E11.42", -250),
              tests(-100, "hba1c")),
        plant(c, "enf_opioid_and_polypharmacy", {ENF}, 74, six, Dx("G62.9", -60),
              Rx("oxycodone", -50), tests(-55, "glucose", "vitamin_b12")),
        plant(c, "enf_aged_64", (), 64, six, Dx("G62.9", -120), Rx("oxycodone", -110),
              tests(-115, "glucose", "vitamin_b12"), birth=date(1961, 11, 21)),
        plant(c, "enf_numbness_not_lower_limb", (), 80, Rx("diazepam", -200), Dx("R20.2", -90),
              tests(-80, "glucose", "vitamin_b12")),
        plant(c, "enf_four_distinct_drugs", (), 76, Dx("E11.9", -700), Rx("metformin", -700),
              Rx("atorvastatin", -700, end=-300), Rx("lisinopril", -600), Rx("amlodipine", -500),
              Rx("omeprazole", -400), Rx("paracetamol", -400, end=-100), Dx("G62.9", -200),
              tests(-150, "hba1c", "vitamin_b12"), Rx("metformin", -30, days=90)),
        plant(c, "enf_benzodiazepine_stopped", (), 72, Rx("lisinopril", -600),
              Rx("amlodipine", -600), Rx("diazepam", -300, end=-200), Dx("G62.9", -150),
              tests(-140, "glucose", "vitamin_b12")),
    ]  # fmt: skip


def neuropathic_pain_scenarios() -> list[Scenario]:
    """Three or more neuropathic-pain drug trials in 24 months, and the near misses."""
    c = RNP
    return [
        plant(c, "rnp_three_drug_classes", {RNP}, 58, Dx("G62.9", -650),
              Rx("gabapentin", -600, end=-420), Rx("duloxetine", -400, end=-200),
              Rx("amitriptyline", -180)),
        plant(c, "rnp_topical_lidocaine_third", {RNP}, 49, Dx("R20.2", -700),
              Rx("pregabalin", -500, end=-300), Rx("nortriptyline", -280, end=-120),
              Rx("lidocaine_patch", -100)),
        plant(c, "rnp_first_trial_exactly_730_days", {RNP}, 61, Dx("G62.9", -760),
              Rx("gabapentin", -730, end=-500), Rx("carbamazepine", -480, end=-300),
              Rx("capsaicin", -250)),
        plant(c, "rnp_two_gabapentinoids_and_snri", {RNP}, 55, Dx("E11.9", -790),
              Rx("metformin", -790), Dx("E11.42", -780), Rx("gabapentin", -500, end=-350),
              Rx("pregabalin", -340, end=-150), Rx("duloxetine", -140)),
        plant(c, "rnp_same_drug_restarted", (), 52, Dx("G62.9", -640),
              Rx("gabapentin", -600, end=-400), Rx("duloxetine", -380, end=-220),
              Rx("gabapentin", -200)),
        plant(c, "rnp_first_trial_731_days", (), 63, Dx("G62.9", -760),
              Rx("amitriptyline", -731, end=-600), Rx("pregabalin", -550, end=-300),
              Rx("duloxetine", -280)),
        plant(c, "rnp_two_drugs", (), 45, Dx("R20.2", -600), Rx("pregabalin", -400),
              Rx("amitriptyline", -300)),
    ]  # fmt: skip


def all_scenarios() -> list[Scenario]:
    """Every planted patient, grouped by the check each was built for."""
    return [
        *diuretic_scenarios(),
        *cirrhosis_scenarios(),
        *insulin_scenarios(),
        *medication_review_scenarios(),
        *electrolyte_scenarios(),
        *metabolic_scenarios(),
        *numbness_scenarios(),
        *nsaid_scenarios(),
        *elderly_scenarios(),
        *neuropathic_pain_scenarios(),
    ]


def appended_scenarios() -> list[Scenario]:
    """Issue #14: deceased patients, censored and text-only results, same-day results by time.

    Appended after the main draw with a random stream of their own (see build_export), so that
    adding them left every earlier patient, background and planted, exactly as it was. The export
    date is the as-of date and a death after the export date is quarantined, so "dies after as-of,
    still audited, exposures end at death" lives in the spec tests only.
    """
    return [
        # Deceased on or before as-of: out of every check's population, whatever they have.
        plant(DEM, "dem_died_before_as_of_open_diuretic", (), 84, Dx("I50.9", -500),
              Rx("furosemide", -480), tests(-430, *BMP), tests(-200, *VITALS), death=-45),
        plant(CC, "cc_died_on_as_of", (), 63, Dx("K70.30", -500), Rx("spironolactone", -480),
              Dx("R25.2", -60), death=0, deceased="true"),
        plant(RNP, "rnp_deceased_date_unknown", (), 71, Dx("G62.9", -650), Dx("N18.4", -300),
              Rx("gabapentin", -600, end=-420), Rx("duloxetine", -400, end=-200),
              Rx("amitriptyline", -180), Rx("ibuprofen", -60), deceased="true"),
        plant(DEM, "dem_deceased_false_no_labs", {DEM}, 76, Dx("I50.9", -300),
              Rx("bumetanide", -280), tests(-400, *BMP), deceased="false"),
        # Censored results: a result wherever one is asked for, judged on the bound.
        plant(NKD, "nkd_latest_egfr_censored_above_60", (), 72, Dx("M17.11", -400),
              tests(-300, egfr=55), Rx("ibuprofen", -60), result("egfr", -40, ">60"),
              tests(-40, *VITALS)),
        plant(NKD, "nkd_egfr_censored_below_15", {NKD}, 79, Dx("N17.9", -35),
              Rx("naproxen", -90), result("egfr", -30, "<15")),
        plant(IPD, "ipd_censored_potassium_below_2_5", {IPD}, 68, diabetes(),
              tests(-70, potassium=4.2), result("potassium", -25, "<2.5")),
        plant(NNW, "nnw_b12_censored_above_2000", (), 57, Dx("R20.2", -150),
              tests(-140, "glucose"), result("vitamin_b12", -140, ">2000")),
        plant(CMW, "cmw_liver_test_censored", (), 43, Dx("R25.2", -100), workup(-95, omit=LFT),
              result("alt", -95, "<= 5")),
        # Text-only results: the test was done, but there is no number: no result.
        plant(DEM, "dem_only_potassium_haemolysed", {DEM}, 70, Dx("I10", -500),
              Rx("spironolactone", -400), tests(-60, "sodium", "creatinine", "egfr"),
              result("potassium", -60, "haemolysed")),
        plant(DEM, "dem_haemolysed_then_repeated", (), 67, Dx("I10", -600),
              Rx("hydrochlorothiazide", -550), tests(-120, "sodium", "creatinine", "egfr"),
              result("potassium", -120, "haemolysed"), tests(-117, "potassium")),
        plant(NNW, "nnw_b12_see_comment", {NNW}, 50, Dx("G62.9", -120), tests(-110, "glucose"),
              result("vitamin_b12", -110, "see comment", unit="")),
        # Two potassium results on one day: their order is their time, not their value.
        plant(IPD, "ipd_same_day_latest_low", {IPD}, 61, diabetes(),
              tests(-12, clock="04:10", potassium=3.9), tests(-12, clock="13:17", potassium=3.3)),
        plant(IPD, "ipd_same_day_fall_by_time", {IPD}, 74, diabetes("insulin_aspart", -300),
              tests(-33, clock="06:05", potassium=4.7), tests(-33, clock="14:40", potassium=3.6)),
        plant(IPD, "ipd_same_day_rise_by_time", (), 56, diabetes(),
              tests(-33, clock="06:05", potassium=3.6), tests(-33, clock="14:40", potassium=4.7)),
    ]  # fmt: skip


def issue15_scenarios() -> list[Scenario]:
    """Issue #15: a patient for each reviewed rule, with near-miss controls (as of 2026-11-20).

    Appended after the issue #14 patients and the vital signs with a random stream of their own
    (see build_export), so that every earlier patient and row kept its draws.
    """
    return [
        # insulin_potassium_drop: a low result, and the later result of a fall, count only on or
        # after the day insulin started; a fall from above potassium_high (5.0) is a correction.
        plant(IPD, "ipd_low_before_insulin_started", (), 63,
              diabetes("insulin_glargine", day_of("2026-10-02")),
              tests(day_of("2026-10-01"), *BMP, potassium=3.2),
              tests(day_of("2026-10-20"), potassium=4.1)),
        plant(IPD, "ipd_low_on_day_insulin_started", {IPD}, 59,
              diabetes("insulin_glargine", day_of("2026-10-01")),
              tests(day_of("2026-10-01"), potassium=3.2)),
        plant(IPD, "ipd_fall_from_hyperkalaemia", (), 70, diabetes(),
              tests(-20, clock="", potassium=5.8), tests(-19, clock="", potassium=4.6)),
        plant(IPD, "ipd_fall_from_censored_above_6", (), 66, diabetes("insulin_aspart", -400),
              result("potassium", -40, ">6.0", clock=""), tests(-39, clock="", potassium=4.8)),
        plant(IPD, "ipd_low_potassium_on_furosemide", {IPD}, 72, diabetes(), Dx("I50.9", -300),
              Rx("furosemide", -280), tests(-30, *BMP, potassium=3.3)),
        # diuretic_electrolyte_monitoring: started within baseline_days (14) = baseline tests due;
        # a renewal keeps the first start of the course, so it is overdue.
        plant(DEM, "dem_started_14_days_ago_baseline_due", {DEM}, 64, Dx("I10", -400),
              Rx("lisinopril", -390), Rx("indapamide", day_of("2026-11-06"))),
        plant(DEM, "dem_started_15_days_ago_overdue", {DEM}, 69, Dx("I10", -500),
              Rx("amlodipine", -480), Rx("indapamide", day_of("2026-11-05"))),
        plant(DEM, "dem_renewed_diuretic_overdue", {DEM}, 78, Dx("I50.9", -700),
              tests(-450, *BMP),
              Rx("furosemide", day_of("2025-01-01"), end=day_of("2026-11-09")),
              Rx("furosemide", day_of("2026-11-10"))),
        # refractory_neuropathic_pain: a neuropathic pain indication, recorded at any time up to
        # as-of, and each drug counted at its first prescription ever.
        plant(RNP, "rnp_three_drugs_depression_only", (), 48, Dx("F32.9", -500),
              Rx("duloxetine", -480, end=-300), Rx("amitriptyline", -280, end=-120),
              Rx("pregabalin", -100)),
        plant(RNP, "rnp_gabapentin_first_started_before_window", (), 56,
              Dx("G62.9", day_of("2024-05-20")),
              Rx("gabapentin", day_of("2024-06-01"), end=day_of("2024-12-31")),
              Rx("gabapentin", day_of("2025-01-01"), end=-500), Rx("duloxetine", -450, end=-250),
              Rx("nortriptyline", -200)),
        plant(RNP, "rnp_indication_coded_after_drugs", {RNP}, 57,
              Rx("gabapentin", -600, end=-420), Rx("nortriptyline", -400, end=-250),
              Rx("carbamazepine", -230), Dx("G62.9", day_of("2026-06-01")),
              tests(-160, "glucose", "vitamin_b12")),
        # cramps_electrolyte_check: calcium per day as ionised, else corrected from a same-day
        # albumin (total + 0.02 x (40 - albumin), 2 decimals), else total.
        plant(CEC, "cec_low_total_calcium_normal_corrected", (), 46, Dx("R25.2", -120),
              workup(-115, calcium=2.05, albumin=30)),
        plant(CEC, "cec_low_total_calcium_no_albumin", {CEC}, 51, Dx("R25.2", -140),
              workup(-135, omit=("albumin",), calcium=2.05)),
        plant(CEC, "cec_corrected_calcium_exactly_2_10", (), 58, Dx("R25.2", -100),
              workup(-96, calcium=2.20, albumin=45)),
        plant(CEC, "cec_low_ionised_calcium_normal_total", {CEC}, 62, Dx("R25.2", -80),
              workup(-78, calcium=2.30, albumin=40), tests(-78, calcium_ionized=1.10)),
        # nsaid_kidney_disease: CKD stage 4+/dialysis coded is high priority on its own; an NSAID
        # with no end date and no days supply is a 90-day course (day 90 active, day 91 not).
        plant(NKD, "nkd_ckd4_code_no_egfr", {NKD}, 75, Dx("M17.11", -500), Dx("N18.4", -400),
              Rx("ibuprofen", -20, days=30)),
        plant(NKD, "nkd_dialysis_code_only", {NKD}, 67, Dx("Z99.2", -300),
              Rx("naproxen", -25, days=30)),
        plant(NKD, "nkd_open_course_started_90_days_ago", {NKD}, 73, Dx("N18.30", -500),
              Rx("ibuprofen", day_of("2026-08-22"))),
        plant(NKD, "nkd_open_course_started_91_days_ago", (), 70, Dx("N18.30", -500),
              Rx("naproxen", day_of("2026-08-21"))),
        # elderly_numbness_fall_risk: gabapentinoids are fall-risk drugs; a cream of a tricyclic and
        # lithium are not; polypharmacy counts regular systemic medicines (no eye drops, no
        # as-required items, no course planned under 28 days).
        plant(ENF, "enf_pregabalin_only_foot_numbness", {ENF}, 70,
              Dx("309538000", -200, "SNOMED-CT"), tests(-190, "glucose", "vitamin_b12"),
              Rx("pregabalin", -180)),
        plant(ENF, "enf_doxepin_cream_only", (), 74, Dx("G62.9", -300),
              tests(-290, "hba1c", "vitamin_b12"), Rx("doxepin_cream", -100)),
        plant(ENF, "enf_lithium_only", (), 71, Dx("G62.9", -250), tests(-240, "glucose", "vitamin_b12"),
              Rx("lithium", -600)),
        plant(ENF, "enf_four_regular_eye_drops_and_as_required", (), 79, Dx("E11.42", -400),
              tests(-300, "hba1c", "vitamin_b12"), Rx("metformin", -700), Rx("lisinopril", -600),
              Rx("amlodipine", -500), Rx("atorvastatin", -500), Rx("latanoprost_eye_drops", -300),
              Rx("paracetamol_prn", -200)),
        plant(ENF, "enf_28_day_course_counts", {ENF}, 68, Dx("G62.9", -300),
              tests(-290, "glucose", "vitamin_b12"), Rx("lisinopril", -600), Rx("amlodipine", -600),
              Rx("atorvastatin", -500), Rx("omeprazole", -400), Rx("prednisolone", -28, end=0)),
        plant(ENF, "enf_27_day_course_not_counted", (), 76, Dx("G62.9", -300),
              tests(-290, "glucose", "vitamin_b12"), Rx("lisinopril", -600), Rx("amlodipine", -600),
              Rx("atorvastatin", -500), Rx("omeprazole", -400), Rx("prednisolone", -27, end=0)),
        # insulin_potassium_drop priority: only results on or after insulin started make it high;
        # a severe 2.8 the day before insulin does not (the fall after it flags, normal priority).
        plant(IPD, "ipd_severe_low_before_insulin_normal_priority", {IPD}, 61,
              diabetes("insulin_glargine", -49), tests(-50, clock="", potassium=2.8),
              tests(-30, clock="", potassium=4.6), tests(-28, clock="", potassium=3.5)),
    ]  # fmt: skip


MAIN_PATIENTS = 300  # the main draw: the first planted scenarios shuffled among background patients
DEFAULT_PATIENTS = MAIN_PATIENTS + len(appended_scenarios()) + len(issue15_scenarios())


# --------------------------------------------------------------------------- background patients


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


# --------------------------------------------------------------------------- writing rows


@dataclass(frozen=True)
class OutRow:
    """One exported line; ``bad`` names the column and rule the ingest must quarantine it for."""

    file: str
    key: tuple[str, str]  # patient, date: the export's sort order
    values: tuple[str, ...]
    bad: tuple[str, str] | None = None


def iso_day(day: int) -> str:
    """The calendar date ``day`` days from the export date."""
    return (AS_OF + timedelta(days=day)).isoformat()


class PatientWriter:
    """Renders one patient's events in that patient's own export style.

    Why per patient: a patient's results come from one laboratory (SI or conventional units,
    timestamps or plain dates), which is how mixed units and formats arise in real exports.
    """

    def __init__(self, pid: str, age: int, sex: str, creatinine: float, rng: random.Random):
        self.pid, self.age, self.sex, self.creatinine, self.rng = pid, age, sex, creatinine, rng
        self.conventional = rng.random() < 0.25
        self.timestamps = rng.random() < 0.6
        self._clock: dict[int, str] = {}
        self._day_creatinine: dict[int, float] = {}

    def rows(self, events: Iterable[Event]) -> list[OutRow]:
        """All rows for the events, in event order (the file is sorted later)."""
        out = []
        for event in events:
            if isinstance(event, Lab):
                out.append(self.lab(event))
            elif isinstance(event, Rx):
                out.append(self.rx(event))
            else:
                out.append(self.dx(event))
        return out

    def when(self, day: int, clock: str | None) -> str:
        """A plain date or a datetime; all tests of one visit share the visit's clock time."""
        if clock == "" or (clock is None and not self.timestamps):
            return iso_day(day)
        if clock is None:
            clock = self._clock.setdefault(
                day, f"{self.rng.randint(7, 11):02d}:{self.rng.randrange(0, 60, 5):02d}"
            )
        return f"{iso_day(day)}T{clock}:00"

    def drawn_value(self, test: str, day: int) -> float:
        """A normal SI value; creatinine and eGFR follow the patient's kidneys on that day."""
        if test in ("creatinine", "egfr"):
            creat = self._day_creatinine.setdefault(
                day, round(self.creatinine * self.rng.uniform(0.95, 1.05))
            )
            return creat if test == "creatinine" else round(ckd_epi_2021(creat, self.age, self.sex))
        return self.rng.uniform(*NORMAL[test])

    def lab(self, ev: Lab) -> OutRow:
        """A labs.csv row: value in the patient's units, identified by LOINC, name or both."""
        spec = LAB_TESTS[ev.test]
        if ev.empty:
            value, unit = "", ""
            loinc = spec.loincs[0]
        elif ev.text is not None:  # written as given; unit "" leaves the unit empty
            value, unit = ev.text, spec.si_unit if ev.unit is None else ev.unit
            loinc = ev.loinc or spec.loincs[0]
        else:
            value, unit = self.lab_value(ev, spec)
            loinc = ev.loinc or self.pick_loinc(spec, unit)
        ident = ev.ident or self.rng.choices(("both", "loinc", "name"), (80, 10, 10))[0]
        name = self.rng.choice(spec.names) if ident != "loinc" else ""
        code = loinc if ident != "name" else ""
        when = self.when(ev.day, ev.clock)
        return OutRow("labs.csv", (self.pid, when), (self.pid, when, code, name, value, unit))

    def lab_value(self, ev: Lab, spec: LabTest) -> tuple[str, str]:
        """The value text and unit; explicit planted values are written exactly as given."""
        if ev.value is not None:
            unit = ev.unit or spec.si_unit
            decimals = spec.us_decimals if unit == spec.us_unit else spec.si_decimals
            return f"{ev.value:.{decimals}f}", unit
        si = self.drawn_value(ev.test, ev.day)
        if self.conventional and spec.us_unit:
            return f"{si * spec.us_factor:.{spec.us_decimals}f}", spec.us_unit
        return f"{si:.{spec.si_decimals}f}", spec.si_unit

    def pick_loinc(self, spec: LabTest, unit: str) -> str:
        """The LOINC that matches the unit; now and then the analyte's second code."""
        if spec.us_loinc and unit == spec.us_unit:
            return spec.us_loinc
        if len(spec.loincs) > 1 and self.rng.random() < 0.15:
            return self.rng.choice(spec.loincs[1:])
        return spec.loincs[0]

    def rx(self, ev: Rx) -> OutRow:
        """A prescriptions.csv row, with codes sometimes missing as in real pharmacy feeds."""
        drug = DRUGS[ev.drug]
        ident = ev.ident or self.rng.choices(("both", "rxnorm", "atc", "name"), (86, 6, 5, 3))[0]
        rxcui = drug.rxcui if ident in ("both", "rxnorm") else ""
        atc = drug.atc if ident in ("both", "atc") else ""
        if not rxcui and not atc and ident != "name":
            rxcui, atc = drug.rxcui, drug.atc  # a code-only row must still carry a code
        start = iso_day(ev.start)
        end = "" if ev.end is None else iso_day(ev.end)
        days = "" if ev.days is None else str(ev.days)
        values = (self.pid, drug.name, rxcui, atc, start, end, days)
        return OutRow("prescriptions.csv", (self.pid, start), values)

    def dx(self, ev: Dx) -> OutRow:
        """A diagnoses.csv row; codes sometimes lose their dot and times sometimes appear."""
        undotted = ev.undotted
        if undotted is None:
            undotted = ev.system != "SNOMED-CT" and self.rng.random() < 0.15
        code = ev.code.replace(".", "") if undotted else ev.code
        stamp = self.timestamps and self.rng.random() < 0.4
        clock = f"{self.rng.randint(8, 17):02d}:{self.rng.randrange(0, 60, 5):02d}" if stamp else ""
        recorded = self.when(ev.day, clock)
        resolved = "" if ev.resolved is None else iso_day(ev.resolved)
        values = (self.pid, code, ev.system, recorded, resolved)
        return OutRow("diagnoses.csv", (self.pid, recorded), values)


def birth_for_age(rng: random.Random, age: int) -> date:
    """A birth date giving exactly ``age`` completed years on the export date."""
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    year = AS_OF.year - age - (1 if (month, day) > (AS_OF.month, AS_OF.day) else 0)
    return date(year, month, day)


# --------------------------------------------------------------------------- deliberately bad rows


def bad_rows(hosts: Sequence[str]) -> list[OutRow]:
    """One row per rule the ingest must catch, on background patients whose flags cannot change.

    Why these hosts: they take no diuretic, insulin, NSAID or neuropathic-pain drug and have no
    cramp or numbness, so whether or not a bad row loads, no check's answer for them moves.
    The rule hints use the ingest's rule names (column:rule). A value with digits that is not a
    number ('6,2', a decimal comma) is rejected; text with no digit ('haemolysed') is not: it loads
    as a test without a result, so it is planted as a scenario instead.
    """
    h = list(hosts)

    def lab(
        i: int,
        when: str,
        loinc: str,
        name: str,
        value: str,
        unit: str,
        bad: tuple[str, str],
        pid: str | None = None,
    ) -> OutRow:
        values = (h[i] if pid is None else pid, when, loinc, name, value, unit)
        return OutRow("labs.csv", (h[i], when), values, bad)

    def rx(i: int, drug: str, start: str, end: str, days: str, bad: tuple[str, str]) -> OutRow:
        d = DRUGS[drug]
        return OutRow(
            "prescriptions.csv", (h[i], start), (h[i], d.name, d.rxcui, d.atc, start, end, days), bad
        )

    def dx(i: int, code: str, system: str, day: int, bad: tuple[str, str]) -> OutRow:
        return OutRow("diagnoses.csv", (h[i], iso_day(day)), (h[i], code, system, iso_day(day), ""), bad)

    return [
        lab(0, iso_day(-200), "2345-7", "Glucose", "6,2", "mmol/L", ("value", "numeric")),
        lab(1, iso_day(-150), "2823-3", "Potassium", "45", "mmol/L", ("value", "plausible")),
        lab(2, iso_day(-90), "2823-4", "Potassium", "4.2", "mmol/L", ("loinc_code", "check_digit")),
        lab(3, "2027-01-05T09:30:00", "2951-2", "Sodium", "140", "mmol/L",
            ("collected_at", "date_range")),
        lab(4, iso_day(-60), "1742-6", "ALT", "23", "U/L", ("patient_id", "required"), pid=""),
        rx(5, "omeprazole", iso_day(-300), "", "-30", ("days_supply", "positive_integer")),
        rx(6, "amlodipine", iso_day(-100), iso_day(-130), "", ("end_date", "after_start")),
        rx(7, "metformin", "2025-02-30", "", "", ("start_date", "format")),
        dx(8, "250.00", "ICD-10-CM", -400, ("code", "format")),
        dx(9, "K86", "ICPC-2", -350, ("code_system", "allowed")),
    ]  # fmt: skip


def quiet_host(bg: Background) -> bool:
    """A background patient whose audit answers cannot depend on any lab or drug row."""
    drugs = {ev.drug for ev in bg.events if isinstance(ev, Rx)}
    return not drugs & GUARDED


# --------------------------------------------------------------------------- assembling the export


@dataclass(frozen=True)
class Export:
    """The rows of every file (sorted) and who is who, for the checks against the plan."""

    rows: dict[str, list[OutRow]]
    planted: dict[str, Scenario]
    background: dict[str, Background]


def build_export(seed: int, n_patients: int) -> Export:
    """Plant the scenarios among background patients, render everyone, add the bad rows.

    The main draw (the first scenarios shuffled among background patients, then the bad rows)
    uses the seed's stream exactly as it did before the appended scenarios existed; those follow
    as the last patients with a stream of their own, and so do the vital-sign rows; the issue #15
    patients come last with a third stream, so that adding them moved nothing drawn before.
    """
    rng = random.Random(seed)
    scenarios = all_scenarios()
    late = appended_scenarios()
    last = issue15_scenarios()
    main_count = n_patients - len(late) - len(last)
    if main_count < len(scenarios) + 10:
        raise SystemExit(f"--patients must be at least {len(scenarios) + len(late) + len(last) + 10}")
    slots: list[Scenario | None] = [*scenarios, *([None] * (main_count - len(scenarios)))]
    rng.shuffle(slots)
    out: list[OutRow] = []
    planted: dict[str, Scenario] = {}
    background: dict[str, Background] = {}
    for number, slot in enumerate(slots, start=1):
        pid = f"P{number:04d}"
        if slot is None:
            bg = make_background(rng)
            background[pid] = bg
            out += patient_rows(pid, bg.age, bg.sex, bg.creatinine, bg.events, rng)
        else:
            planted[pid] = slot
            out += planted_rows(pid, slot, rng)
    out += bad_rows(pick_hosts(rng, background))
    extra = random.Random(f"{seed}/appended")
    for number, scenario in enumerate(late, start=main_count + 1):
        pid = f"P{number:04d}"
        planted[pid] = scenario
        out += planted_rows(pid, scenario, extra)
    out += vital_rows(extra, background)
    newest = random.Random(f"{seed}/issue15")
    for number, scenario in enumerate(last, start=main_count + len(late) + 1):
        pid = f"P{number:04d}"
        planted[pid] = scenario
        out += planted_rows(pid, scenario, newest)
    rows: dict[str, list[OutRow]] = {name: [] for name in HEADERS}
    for row in out:
        rows[row.file].append(row)
    return Export(
        {name: sorted(r, key=lambda o: (o.key, o.values)) for name, r in rows.items()}, planted, background
    )


def planted_rows(pid: str, scenario: Scenario, rng: random.Random) -> list[OutRow]:
    """A planted patient's rows: sex and kidneys drawn, the rest as the scenario says."""
    sex = rng.choice("FM")
    creat = baseline_creatinine(rng, scenario.age, sex)
    death = "" if scenario.death is None else iso_day(scenario.death)
    return patient_rows(
        pid, scenario.age, sex, creat, scenario.events, rng, scenario.birth, death, scenario.deceased
    )


def patient_rows(
    pid: str,
    age: int,
    sex: str,
    creatinine: float,
    events: Iterable[Event],
    rng: random.Random,
    birth: date | None = None,
    death: str = "",
    deceased: str = "",
) -> list[OutRow]:
    """The patients.csv row and every event row of one patient."""
    born = birth or birth_for_age(rng, age)
    values = (pid, born.isoformat(), sex, death, deceased)
    return [
        OutRow("patients.csv", (pid, ""), values),
        *PatientWriter(pid, age, sex, creatinine, rng).rows(events),
    ]


def vital_rows(rng: random.Random, background: dict[str, Background], patients: int = 12) -> list[OutRow]:
    """Weight, BMI and blood pressure in labs.csv for some background patients, as EHRs export them.

    Why: they are observations, not labs; they load as labs no check uses, and change no answer.
    They come from another source than the patient's laboratory, so another writer renders them.
    """
    rows: list[OutRow] = []
    for pid in rng.sample(sorted(background), patients):
        bg = background[pid]
        writer = PatientWriter(pid, bg.age, bg.sex, bg.creatinine, rng)
        for day in sorted(rng.sample(range(FIRST_DAY, -3), rng.randint(1, 3))):
            rows += writer.rows(tests(day, *VITALS))
    return rows


def pick_hosts(rng: random.Random, background: dict[str, Background]) -> list[str]:
    """Ten distinct quiet background patients; the ICD-9-as-ICD-10 slip goes to a diabetic."""
    quiet = sorted(pid for pid, bg in background.items() if quiet_host(bg))
    hosts = rng.sample(quiet, 10)
    diabetic = [pid for pid in quiet if "dm" in background[pid].conditions and pid not in hosts]
    if diabetic:
        hosts[8] = rng.choice(diabetic)
    return hosts


def write_export(export: Export, folder: Path) -> None:
    """Write the four CSV files: UTF-8, comma, LF line ends, header first."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        write_csv(folder / name, header, [row.values for row in export.rows[name]])


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """One CSV file, written the same way every time so that output is byte-identical."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def planted_quarantine(export: Export) -> list[tuple[str, int, str, str]]:
    """(file, physical line, column, rule) of every deliberately bad row; the header is line 1."""
    found = []
    for name, rows in export.rows.items():
        for index, row in enumerate(rows):
            if row.bad:
                found.append((name, index + 2, row.bad[0], row.bad[1]))
    return sorted(found)


# =========================================================================== reference evaluator
# Independent of the writer above: it reads the CSV files back and knows only codes, names and
# the rules below. Its code sets come from sample_data/VOCABULARY.md and the issues.

LAB_BY_LOINC: dict[str, str] = {
    "2823-3": "potassium", "6298-4": "potassium", "2951-2": "sodium", "2947-0": "sodium",
    "19123-9": "magnesium", "2601-3": "magnesium", "17861-6": "calcium", "2000-8": "calcium",
    "2160-0": "creatinine", "38483-4": "creatinine", "33914-3": "egfr", "62238-1": "egfr",
    "98979-8": "egfr", "3016-3": "tsh", "1742-6": "alt", "1920-8": "ast", "1975-2": "bilirubin",
    "1751-7": "albumin", "2345-7": "glucose", "4548-4": "hba1c", "2132-9": "vitamin_b12",
    "2828-2": "urine potassium", "2955-3": "urine sodium",
    "1994-3": "calcium_ionized", "1995-0": "calcium_ionized", "29265-6": "calcium_corrected",
    "18281-6": "calcium_corrected",
}  # fmt: skip
LAB_BY_NAME: dict[str, str] = {
    "potassium": "potassium", "k": "potassium", "serum potassium": "potassium",
    "sodium": "sodium", "na": "sodium", "serum sodium": "sodium", "magnesium": "magnesium",
    "mg": "magnesium", "calcium": "calcium", "ca": "calcium", "creatinine": "creatinine",
    "egfr": "egfr", "tsh": "tsh", "alt": "alt", "ast": "ast", "bilirubin, total": "bilirubin",
    "albumin": "albumin", "glucose": "glucose", "hba1c": "hba1c", "vitamin b12": "vitamin_b12",
    "urine potassium": "urine potassium", "urine sodium": "urine sodium",
    "ionised calcium": "calcium_ionized", "ionized calcium": "calcium_ionized",
    "corrected calcium": "calcium_corrected", "adjusted calcium": "calcium_corrected",
}  # fmt: skip
PLAUSIBLE = {"potassium": (1.0, 10.0), "sodium": (100.0, 180.0)}
CALCIUM_FORMS = ("calcium", "calcium_corrected", "calcium_ionized")

INGREDIENT_CODES: dict[str, tuple[str, str]] = {  # ingredient: (RxNorm RxCUI, ATC)
    "furosemide": ("4603", "C03CA01"), "bumetanide": ("1808", "C03CA02"),
    "torsemide": ("38413", "C03CA04"), "hydrochlorothiazide": ("5487", "C03AA03"),
    "chlorthalidone": ("2409", "C03BA04"), "indapamide": ("5764", "C03BA11"),
    "metolazone": ("6916", "C03BA08"), "spironolactone": ("9997", "C03DA01"),
    "eplerenone": ("298869", "C03DA04"), "amiloride": ("644", "C03DB01"),
    "triamterene": ("10763", "C03DB02"), "insulin glargine": ("274783", "A10AE04"),
    "insulin lispro": ("86009", "A10AB04"), "insulin aspart": ("51428", "A10AB05"),
    "atorvastatin": ("83367", "C10AA05"), "simvastatin": ("36567", "C10AA01"),
    "rosuvastatin": ("301542", "C10AA07"), "metoprolol": ("6918", "C07AB02"),
    "atenolol": ("1202", "C07AB03"), "bisoprolol": ("19484", "C07AB07"),
    "ibuprofen": ("5640", "M01AE01"), "naproxen": ("7258", "M01AE02"),
    "diclofenac": ("3355", "M01AB05"), "baclofen": ("1292", "M03BX01"),
    "albumin human": ("", "B05AA01"), "diazepam": ("3322", "N05BA01"),
    "lorazepam": ("6470", "N05BA06"), "zolpidem": ("39993", "N05CF02"),
    "oxycodone": ("7804", "N02AA05"), "tramadol": ("10689", "N02AX02"),
    "diphenhydramine": ("3498", "R06AA02"), "gabapentin": ("25480", "N02BF01"),
    "pregabalin": ("187832", "N02BF02"), "duloxetine": ("72625", "N06AX21"),
    "amitriptyline": ("704", "N06AA09"), "nortriptyline": ("7531", "N06AA10"),
    "carbamazepine": ("2002", "N03AF01"), "capsaicin": ("1992", "M02AB01"),
    "lidocaine": ("6387", "N01BB02"), "metformin": ("6809", "A10BA02"),
    "lisinopril": ("29046", "C09AA03"), "amlodipine": ("17767", "C08CA01"),
    "omeprazole": ("7646", "A02BC01"), "levothyroxine": ("10582", "H03AA01"),
    "paracetamol": ("161", "N02BE01"), "latanoprost": ("43611", "S01EE01"),
    "doxepin": ("3638", "N06AA12"), "lithium": ("42351", "N05AN01"),
    "prednisolone": ("8638", "H02AB06"),
}  # fmt: skip
EXTRA_ATC = {"C09BA03": ("lisinopril", "hydrochlorothiazide"), "M02AA15": ("diclofenac",),
             "D04AX01": ("doxepin",)}  # fmt: skip
NAME_ALIASES = {"lasix": "furosemide", "aldactone": "spironolactone", "torasemide": "torsemide",
                "acetaminophen": "paracetamol"}  # fmt: skip
RXCUI_INGREDIENT = {rxcui: name for name, (rxcui, _) in INGREDIENT_CODES.items() if rxcui}
ATC_INGREDIENTS = {atc: (name,) for name, (_, atc) in INGREDIENT_CODES.items()} | EXTRA_ATC
NAME_WORDS = {name: name for name in INGREDIENT_CODES} | NAME_ALIASES
TOPICAL_WORDS = re.compile(r"\b(gel|cream|ointment|topical|spray|foam)\b")
LOCAL_WORDS = re.compile(r"\b(eye|ear|nasal|nose) ?(drops?|spray|ointment|gel)\b")  # not systemic
AS_NEEDED_WORDS = re.compile(r"\b(prn|as needed|as required|when required|when needed)\b")

DIURETIC = frozenset({
    "furosemide", "bumetanide", "torsemide", "etacrynic acid", "hydrochlorothiazide",
    "chlorthalidone", "chlorothiazide", "indapamide", "metolazone", "bendroflumethiazide",
    "spironolactone", "eplerenone", "amiloride", "triamterene",
})  # fmt: skip
INSULIN = frozenset({"insulin glargine", "insulin lispro", "insulin aspart"})
STATIN = frozenset({"atorvastatin", "simvastatin", "rosuvastatin"})
BETA_BLOCKER = frozenset({"metoprolol", "atenolol", "bisoprolol"})
NSAID = frozenset({"ibuprofen", "naproxen", "diclofenac"})
# Fall-risk drugs (issue #15, AGS Beers 2023): the sedatives and opioids count in any form; the
# others (antihistamine, tricyclic, SNRI, gabapentinoid, antiepileptic) only in a systemic form.
# Lithium is not an antipsychotic here.
FALL_RISK_ANY_FORM = frozenset({"diazepam", "lorazepam", "zolpidem", "oxycodone", "tramadol"})
FALL_RISK = FALL_RISK_ANY_FORM | frozenset({
    "diphenhydramine", "gabapentin", "pregabalin", "amitriptyline", "nortriptyline", "doxepin",
    "duloxetine", "carbamazepine",
})  # fmt: skip
NEUROPATHIC = frozenset({"gabapentin", "pregabalin", "duloxetine", "amitriptyline",
                         "nortriptyline", "carbamazepine", "capsaicin", "lidocaine"})  # fmt: skip

# Diagnosis concepts: code prefixes without dots per system (SNOMED-CT matched exactly).
CONCEPTS: dict[str, dict[str, tuple[str, ...]]] = {
    "cirrhosis": {"ICD-10-CM": ("K703", "K717", "K743", "K744", "K745", "K746"),
                  "ICD-9-CM": ("5712", "5715", "5716"), "SNOMED-CT": ("19943007",)},
    "cramp": {"ICD-10-CM": ("R252",), "ICD-9-CM": ("72982",), "SNOMED-CT": ("55300003",)},
    "numbness": {"ICD-10-CM": ("R200", "R202", "G629", "E1142", "G5791", "G5792"),
                 "SNOMED-CT": ("44077006", "302226006", "309538000")},
    "lower_limb": {"ICD-10-CM": ("G5791", "G5792", "G629", "E1142"),
                   "SNOMED-CT": ("309538000",)},
    "ckd3": {"ICD-10-CM": ("N183", "N184", "N185", "N186"),
             "ICD-9-CM": ("5853", "5854", "5855", "5856"), "SNOMED-CT": ("433144002",)},
    # issue #15: CKD stage 4-5, end-stage renal disease, dialysis (flag on their own, high priority)
    "ckd4plus": {"ICD-10-CM": ("N184", "N185", "N186", "I120", "I132", "Z992", "Z49"),
                 "ICD-9-CM": ("5854", "5855", "5856", "V4511", "V56"),
                 "SNOMED-CT": ("431857002", "433146000", "46177005")},
    # issue #15: what makes a neuropathic-pain drug a neuropathic-pain treatment (F32 depression not)
    "neuropathic_indication": {
        "ICD-10-CM": ("G50", "G54", "G55", "G56", "G57", "G58", "G59", "G60", "G61", "G62", "G63",
                      "R20", "E1042", "E1142", "M541", "M543", "M544", "M792", "B022"),
        "ICD-9-CM": ("350", "353", "354", "355", "356", "3572", "7292", "7820", "0531"),
        "SNOMED-CT": ("44077006", "302226006", "309538000"),
    },
}  # fmt: skip
SYSTEMS = ("ICD-10-CM", "ICD-9-CM", "SNOMED-CT")
CODE_PATTERNS = {
    "ICD-10-CM": re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"),
    "ICD-9-CM": re.compile(r"^([0-9]{3}|V[0-9]{2})(\.?[0-9]{1,2})?$|^E[0-9]{3}(\.?[0-9])?$"),
    "SNOMED-CT": re.compile(r"^[1-9][0-9]{5,17}$"),
}
LOINC_PATTERN = re.compile(r"^([0-9]{1,7})-([0-9])$")
ATC_PATTERN = re.compile(r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")


@dataclass(frozen=True)
class Reading:
    """One interpretation of the details the issues leave open; the default is the chosen one."""

    empty_value_counts: bool = False  # does "test done, value left empty" count as a result?
    days_supply_end_offset: int = 0  # end = start + days_supply (+ offset)
    cec_latest_only: bool = False  # judge "below range" on the latest result in the window only
    egfr_within_days: int | None = None  # "latest eGFR" limited to a lookback
    enf_lookback_only: bool = False  # leg neuropathy only when recorded in the last 365 days
    cmr_active: str = "cramp"  # drug active on the cramp day | on as-of | any time in lookback
    soft_slack: int = 0  # widen (+) or narrow (-) the windows no planted case sits on
    rounded_factors: bool = False  # Mg / 2.43, Ca / 4.0, creatinine x 88.4
    ipd_pair_in_lookback: bool = True  # both results of a potassium fall in the 90-day lookback
    ipd_insulin_on_as_of: bool = False  # insulin active on as-of rather than in the lookback
    numbness_g5792: bool = True  # G57.92 (left leg mononeuropathy) counts as numbness
    timestamps: bool = False  # compare lab datetimes with midnight of the window's end day
    keep_bad_rows: bool = False  # bad rows that can still be read are kept, not quarantined


PRIMARY = Reading()
VARIANTS: tuple[tuple[str, Reading], ...] = (
    ("empty lab values count as results", Reading(empty_value_counts=True)),
    ("days_supply ends one day earlier", Reading(days_supply_end_offset=-1)),
    ("cramp electrolytes judged on the latest result", Reading(cec_latest_only=True)),
    ("latest eGFR only within 365 days", Reading(egfr_within_days=365)),
    ("leg neuropathy only if recorded in the lookback", Reading(enf_lookback_only=True)),
    ("cramp drug active on the as-of date", Reading(cmr_active="as_of")),
    ("cramp drug active at any time in the lookback", Reading(cmr_active="lookback")),
    ("soft windows one day shorter", Reading(soft_slack=-1)),
    ("soft windows one day longer", Reading(soft_slack=1)),
    ("rounded unit factors", Reading(rounded_factors=True)),
    ("potassium fall may start before the lookback", Reading(ipd_pair_in_lookback=False)),
    ("insulin active on the as-of date", Reading(ipd_insulin_on_as_of=True)),
    ("G57.92 is not a numbness code", Reading(numbness_g5792=False)),
    ("lab times compared with midnight", Reading(timestamps=True)),
    ("readable bad rows kept", Reading(keep_bad_rows=True)),
)


@dataclass(frozen=True)
class LabResult:
    """A lab result in canonical units (None: test done, no numeric result).

    A censored result ('<2.5') has its comparator here and its bound, converted, as the value.
    """

    day: date
    at: datetime
    analyte: str
    value: float | None
    comparator: str | None = None  # '<', '<=', '>', '>=' or None for a plain number
    blank: bool = False  # the value was left empty (rather than written as text)


@dataclass(frozen=True)
class Prescription:
    """A prescription with the ingredients it was recognised as."""

    name: str
    ingredients: frozenset[str]
    topical: bool
    start: date
    end_date: date | None
    days_supply: int | None
    ends_by: date | None = None  # the patient's death date: no exposure outlives its patient
    local: bool = False  # an eye, ear or nasal preparation: not systemic (issue #15)
    as_needed: bool = False  # 'as required', 'prn': not a regular medicine (issue #15)


@dataclass(frozen=True)
class Diagnosis:
    """A diagnosis with the concepts its code belongs to."""

    code: str
    concepts: frozenset[str]
    recorded: date
    resolved: date | None


@dataclass
class PatientRecord:
    """Everything the evaluator knows about one patient."""

    pid: str
    birth: date | None = None
    death: date | None = None
    deceased: bool = False  # dead, with or without a known death date
    labs: list[LabResult] = field(default_factory=list)
    rxs: list[Prescription] = field(default_factory=list)
    dxs: list[Diagnosis] = field(default_factory=list)


Failure = tuple[str, str]  # column, rule
Rejection = tuple[str, int, str, str]  # file, line, column, rule


def loinc_ok(code: str) -> bool:
    """LOINC's mod-10 check digit: double every other digit from the right, as LOINC publishes."""
    match = LOINC_PATTERN.match(code)
    if not match:
        return False
    total = 0
    for position, char in enumerate(reversed(match[1])):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(match[2])


def parse_when(text: str) -> datetime | None:
    """An ISO date or datetime, or None when it is not one (e.g. 2025-02-30)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def date_failures(column: str, text: str, required: bool) -> list[Failure]:
    """Required, readable, and between 1900 and the export date."""
    if not text:
        return [(column, "required")] if required else []
    when = parse_when(text)
    if when is None:
        return [(column, "format")]
    if not date(1900, 1, 1) <= when.date() <= AS_OF:
        return [(column, "date_range")]
    return []


def to_canonical(analyte: str, value: float, unit: str, reading: Reading) -> float:
    """Magnesium and calcium to mmol/L, creatinine to umol/L; other units are already canonical."""
    conventional = unit.strip().lower() == "mg/dl"
    if analyte == "magnesium" and conventional:
        return value / (2.43 if reading.rounded_factors else 2.431)
    if analyte == "albumin" and unit.strip().lower() == "g/dl":
        return value * 10
    if analyte in CALCIUM_FORMS and conventional:
        return value / (4.0 if reading.rounded_factors else 4.008)
    if analyte == "creatinine" and conventional:
        return value * (88.4 if reading.rounded_factors else 88.42)
    return value


CENSORED_VALUE = re.compile(r"^(<=|>=|<|>) ?([0-9]+(\.[0-9]+)?|\.[0-9]+)$")
PLAIN_VALUE = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


def read_value(text: str) -> tuple[str | None, float | None, bool]:
    """(comparator, number, readable) of a value: '4.1', '<2.5', '<= 5', or text without a number.

    Text with no digit at all ('haemolysed', 'see comment') is a test without a result, which is
    readable; text with digits that is neither a number nor a censored one ('6,2') is not.
    """
    if not any(char.isdigit() for char in text):
        return None, None, True
    censored = CENSORED_VALUE.match(text)
    if censored:
        return censored[1], float(censored[2]), True
    if PLAIN_VALUE.match(text):
        return None, float(text), True
    return None, None, False


def parse_lab(raw: dict[str, str], reading: Reading) -> tuple[LabResult | None, list[Failure]]:
    """Validate a labs.csv row and read it; urine tests are read but never match serum sets."""
    fails: list[Failure] = [] if raw["patient_id"] else [("patient_id", "required")]
    fails += date_failures("collected_at", raw["collected_at"], required=True)
    loinc, name = raw["loinc_code"], raw["test_name"]
    if not loinc and not name:
        fails.append(("loinc_code", "test_identified"))
    good_loinc = not loinc or loinc_ok(loinc)
    if not good_loinc:
        fails.append(("loinc_code", "check_digit"))
    analyte = LAB_BY_LOINC.get(loinc) if loinc and good_loinc else LAB_BY_NAME.get(name.lower())
    comparator, value, readable = read_value(raw["value"])
    if not readable:
        fails.append(("value", "numeric"))
    if value is not None and analyte:
        value = to_canonical(analyte, value, raw["unit"], reading)
        low, high = PLAUSIBLE.get(analyte, (float("-inf"), float("inf")))
        if not low <= value <= high:
            fails.append(("value", "plausible"))
    when = parse_when(raw["collected_at"])
    if when is None or analyte is None:
        return None, fails
    return LabResult(when.date(), when, analyte, value, comparator, not raw["value"]), fails


def ingredients_of(name: str, rxcui: str, atc: str) -> tuple[frozenset[str], bool]:
    """Ingredients recognised from the RxCUI, the ATC code and words in the name; topical or not."""
    found = set()
    if rxcui in RXCUI_INGREDIENT:
        found.add(RXCUI_INGREDIENT[rxcui])
    found.update(ATC_INGREDIENTS.get(atc, ()))
    lowered = name.lower()
    for word, ingredient in NAME_WORDS.items():
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            found.add(ingredient)
    topical = atc.startswith(("M02", "D")) or bool(TOPICAL_WORDS.search(lowered))
    return frozenset(found), topical


def parse_rx(raw: dict[str, str]) -> tuple[Prescription | None, list[Failure]]:
    """Validate a prescriptions.csv row and read it."""
    fails: list[Failure] = [] if raw["patient_id"] else [("patient_id", "required")]
    if not raw["drug_name"]:
        fails.append(("drug_name", "required"))
    fails += date_failures("start_date", raw["start_date"], required=True)
    fails += date_failures("end_date", raw["end_date"], required=False)
    start, end = parse_when(raw["start_date"]), parse_when(raw["end_date"])
    if start and end and end < start:
        fails.append(("end_date", "after_start"))
    days = None
    if raw["days_supply"]:
        days = int(raw["days_supply"]) if re.fullmatch(r"-?[0-9]+", raw["days_supply"]) else None
        if days is None or not 1 <= days <= 3650:
            fails.append(("days_supply", "positive_integer"))
    if raw["rxnorm_code"] and not raw["rxnorm_code"].isdigit():
        fails.append(("rxnorm_code", "format"))
    if raw["atc_code"] and not ATC_PATTERN.match(raw["atc_code"]):
        fails.append(("atc_code", "format"))
    if start is None:
        return None, fails
    ingredients, topical = ingredients_of(raw["drug_name"], raw["rxnorm_code"], raw["atc_code"])
    lowered, atc = raw["drug_name"].lower(), raw["atc_code"]
    local = atc.startswith(("S", "R01A")) or bool(LOCAL_WORDS.search(lowered))
    rx = Prescription(
        raw["drug_name"], ingredients, topical, start.date(), end.date() if end else None, days,
        local=local, as_needed=bool(AS_NEEDED_WORDS.search(lowered)),
    )  # fmt: skip
    return rx, fails


def concepts_of(code: str, system: str, reading: Reading) -> frozenset[str]:
    """The clinical concepts a code belongs to: dots ignored, ICD by prefix, SNOMED exactly."""
    plain = code.replace(".", "").upper()
    found = set()
    for concept, systems in CONCEPTS.items():
        prefixes = systems.get(system, ())
        if not reading.numbness_g5792 and concept == "numbness":
            prefixes = tuple(p for p in prefixes if p != "G5792")
        exact = system == "SNOMED-CT"
        if any(plain == p if exact else plain.startswith(p) for p in prefixes):
            found.add(concept)
    return frozenset(found)


def parse_dx(raw: dict[str, str], reading: Reading) -> tuple[Diagnosis | None, list[Failure]]:
    """Validate a diagnoses.csv row and read it."""
    fails: list[Failure] = [] if raw["patient_id"] else [("patient_id", "required")]
    system, code = raw["code_system"], raw["code"]
    if system not in SYSTEMS:
        fails.append(("code_system", "allowed"))
    elif not CODE_PATTERNS[system].match(code.upper()):
        fails.append(("code", "format"))
    fails += date_failures("recorded_at", raw["recorded_at"], required=True)
    fails += date_failures("resolved_at", raw["resolved_at"], required=False)
    recorded, resolved = parse_when(raw["recorded_at"]), parse_when(raw["resolved_at"])
    if recorded and resolved and resolved < recorded:
        fails.append(("resolved_at", "after_recorded"))
    if recorded is None or system not in SYSTEMS:
        return None, fails
    dx = Diagnosis(
        code, concepts_of(code, system, reading), recorded.date(), resolved.date() if resolved else None
    )
    return dx, fails


@dataclass(frozen=True)
class PatientFacts:
    """What patients.csv says about a patient: birth, and death (dated or not)."""

    birth: date | None
    death: date | None
    deceased: bool


YES_NO = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_patient(raw: dict[str, str]) -> tuple[PatientFacts, list[Failure]]:
    """Validate a patients.csv row and read birth and death.

    A death date means dead, whatever the deceased column says; deceased 'true' without a date
    means dead on a day unknown. Both columns are optional (older exports lack them).
    """
    fails: list[Failure] = [] if raw["patient_id"] else [("patient_id", "required")]
    fails += date_failures("birth_date", raw["birth_date"], required=False)
    if raw["sex"] not in ("F", "M"):
        fails.append(("sex", "allowed"))
    death_text, deceased_text = raw.get("death_date", ""), raw.get("deceased", "")
    fails += date_failures("death_date", death_text, required=False)
    if deceased_text and deceased_text.lower() not in YES_NO:
        fails.append(("deceased", "allowed"))
    born, died = parse_when(raw["birth_date"]), parse_when(death_text)
    if born and died and died < born:
        fails.append(("death_date", "after_birth"))
    dead = died is not None or YES_NO.get(deceased_text.lower(), False)
    return PatientFacts(born.date() if born else None, died.date() if died else None, dead), fails


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(physical line, row with trimmed values and lower-case headers) for each data row."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for raw in reader:
            yield reader.line_num, {k.strip().lower(): (v or "").strip() for k, v in raw.items()}


def load_export(folder: Path, reading: Reading) -> tuple[dict[str, PatientRecord], list[Rejection]]:
    """Read and validate the four files; rejected rows are reported and (normally) left out."""
    patients: dict[str, PatientRecord] = {}
    rejected: list[Rejection] = []

    def record(pid: str) -> PatientRecord:
        return patients.setdefault(pid, PatientRecord(pid))

    parsers: dict[str, Callable[[dict[str, str]], tuple[object, list[Failure]]]] = {
        "patients.csv": parse_patient,
        "labs.csv": lambda raw: parse_lab(raw, reading),
        "prescriptions.csv": parse_rx,
        "diagnoses.csv": lambda raw: parse_dx(raw, reading),
    }
    for name, parse in parsers.items():
        for line, raw in read_rows(folder / name):
            item, fails = parse(raw)
            rejected += [(name, line, column, rule) for column, rule in fails]
            if item is None or not raw["patient_id"] or (fails and not reading.keep_bad_rows):
                continue
            target = record(raw["patient_id"])
            if isinstance(item, PatientFacts):
                target.birth, target.death, target.deceased = item.birth, item.death, item.deceased
            elif isinstance(item, LabResult):
                target.labs.append(item)
            elif isinstance(item, Prescription):
                target.rxs.append(item)
            elif isinstance(item, Diagnosis):
                target.dxs.append(item)
    for patient in patients.values():
        patient.labs.sort(key=lambda lab: (lab.at, lab.analyte))  # "latest" is latest in time
        if patient.death:
            patient.rxs = [replace(rx, ends_by=patient.death) for rx in patient.rxs]
    return patients, sorted(rejected)


# --------------------------------------------------------------------------- the ten checks


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
    drugs = drugs_active(p, DIURETIC, ctx.as_of, ctx.as_of, ctx)
    if not drugs:
        return None
    low = ctx.back(365)
    missing = [a for a in ("potassium", "sodium") if not results(p, (a,), low, ctx.as_of, ctx)]
    if not missing:
        return None
    # issue #15: the course started at the earliest diuretic active in the lookback (a renewal is
    # not a new start); started within 14 days of as-of = baseline tests due, else overdue
    since = min(rx.start for rx in p.rxs if rx.ingredients & DIURETIC and overlaps(rx, low, ctx.as_of, ctx))
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
    for first, second in itertools.pairwise(series):
        start_ok = first.day >= low or not ctx.reading.ipd_pair_in_lookback
        close = (second.day - first.day).days <= 7
        if second.day >= after and start_ok and close and fell(first, second, 1.0) and not above(first, 5.0):
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
        drugs = sorted({d for c in recent for d in drugs_active(p, concept, c.recorded, c.recorded, ctx)})
    elif mode == "as_of":
        drugs = drugs_active(p, concept, ctx.as_of, ctx.as_of, ctx)
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


def check_nsaid(p: PatientRecord, ctx: Ctx) -> str | None:
    """nsaid_kidney_disease."""
    # issue #15: an NSAID with no end date and no days supply is a 90-day course
    nsaids = sorted({i for rx in p.rxs if not rx.topical and active_on(rx, ctx.as_of, ctx, open_course=90)
                     for i in rx.ingredients & NSAID})  # fmt: skip
    if not nsaids:
        return None
    ckd = [d for d in p.dxs if d.concepts & {"ckd3", "ckd4plus"} and present(d, ctx.as_of)]
    severe = [d for d in ckd if "ckd4plus" in d.concepts]
    limit = ctx.reading.egfr_within_days
    low = ctx.back(limit) if limit else date(1900, 1, 1)
    egfrs = [r for r in results(p, ("egfr",), low, ctx.as_of, ctx) if r.value is not None]
    reasons = [f"CKD stage 4+ {d.code}" for d in severe[:1]] or [f"CKD stage 3+ {d.code}" for d in ckd[:1]]
    if egfrs and below(egfrs[-1], 60):
        reasons.append(f"latest eGFR {shown(egfrs[-1], 0)} on {egfrs[-1].day}")
    priority = "high" if severe or (egfrs and below(egfrs[-1], 30)) else "normal"
    return f"on {', '.join(nsaids)}; {'; '.join(reasons)}; priority {priority}" if reasons else None


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
    active = [rx for rx in p.rxs if overlaps(rx, ctx.as_of, ctx.as_of, ctx)]
    # issue #15: polypharmacy counts regular systemic medicines only
    regular = [rx for rx in active if not (rx.topical or rx.local or rx.as_needed or acute(rx, p, ctx))]
    distinct = {drug_identity(rx) for rx in regular}
    risky = sorted({i for rx in active for i in rx.ingredients & FALL_RISK
                    if i in FALL_RISK_ANY_FORM or not (rx.topical or rx.local)})  # fmt: skip
    if len(distinct) < 5 and not risky:
        return None
    why = f"age {age_on(p.birth, ctx.as_of)}; {legs[0].code}; {len(distinct)} regular systemic drugs"
    return why + (f"; fall-risk {', '.join(risky)}" if risky else "")


def drug_identity(rx: Prescription) -> object:
    """What makes two prescriptions the same drug: the ingredient set (and form), else the name."""
    return (rx.ingredients, rx.topical) if rx.ingredients else rx.name.lower()


def acute(rx: Prescription, p: PatientRecord, ctx: Ctx) -> bool:
    """A course planned for under 28 days, unless the same drug ran from 28+ days before as-of."""
    end = rx_end(rx, ctx)
    if end is None or (end - rx.start).days >= 28:
        return False
    since = ctx.back(28)
    same = [o for o in p.rxs if drug_identity(o) == drug_identity(rx) and not o.as_needed]
    return not any(o.start <= since and overlaps(o, since, ctx.as_of, ctx) for o in same)


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

    diuretic_electrolyte_monitoring: a diuretic active on as-of, and no numeric serum/plasma/
      blood potassium, or no sodium, collected in [as_of - 365, as_of]. The reason starts with
      "baseline tests due" when the earliest start of the diuretics overlapping that window is on
      or after as_of - 14 (a renewal keeps the first start), else with "overdue" (issue #15).
    cramps_cirrhosis: cirrhosis present on as-of and a cramp recorded in [as_of - 365, as_of].
    insulin_potassium_drop: an insulin prescription overlapping [as_of - 90, as_of]; insulin
      started = the earliest start of those prescriptions. In that window, a potassium certainly
      below 3.5 mmol/L collected on or after insulin started, or two consecutive potassium results
      (in time order), both in the window, at most 7 calendar days apart, the later one collected
      on or after insulin started (the earlier may be before), falling certainly by >= 1.0 mmol/L,
      the earlier one not certainly above 5.0 (a fall from hyperkalaemia is its correction; '>6.0'
      is above). A diuretic overlapping [max(as_of - 90, insulin started), as_of] is named in the
      reason ("also on ..."). The reason ends with the latest potassium.
    cramps_medication_review: a cramp recorded in [as_of - 365, as_of] on a day when a
      diuretic, statin or beta-blocker was active (the drug that may cause the cramp).
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
      585.4-585.6, V45.11, V56) present on as-of, or the latest eGFR (by time, a censored one
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


# --------------------------------------------------------------------------- verification


def verify(export: Export, flags: dict[tuple[str, str], str], folder: Path) -> None:
    """Every planted patient gets exactly its planned flags; no background patient gets any."""
    by_patient: dict[str, set[str]] = {}
    for check_id, pid in flags:
        by_patient.setdefault(pid, set()).add(check_id)
    problems = [
        f"{pid} ({s.key}): planned {sorted(s.flags)}, got {sorted(by_patient.get(pid, ()))}"
        for pid, s in sorted(export.planted.items())
        if by_patient.get(pid, set()) != set(s.flags)
    ]
    problems += [
        f"background {pid} flagged for {sorted(by_patient[pid])}"
        for pid in sorted(export.background)
        if pid in by_patient
    ]
    for check_id in CHECK_IDS:
        planted = [s for s in export.planted.values() if s.check == check_id]
        if sum(check_id in s.flags for s in planted) < 4 or all(s.flags for s in planted):
            problems.append(f"{check_id}: needs several planted flags and at least one control")
    _, rejected = load_export(folder, PRIMARY)
    if rejected != planted_quarantine(export):
        problems.append(f"quarantine {rejected} != planted {planted_quarantine(export)}")
    for name, rows in export.rows.items():
        if len({(row.values) for row in rows}) != len(rows):
            problems.append(f"{name}: exact duplicate rows (the ingest would drop them)")
        share = sum(row.bad is not None for row in rows) / max(len(rows), 1)
        if share >= 0.02:
            problems.append(f"{name}: bad-row share {share:.1%} is too high")
    if problems:
        raise AssertionError("sample does not match its plan:\n  " + "\n  ".join(problems))


def write_answers(
    flags: dict[tuple[str, str], str], export: Export, flags_path: Path, quarantine_path: Path
) -> None:
    """expected_flags.csv (with the planted scenario in each reason) and quarantine_expected.csv."""
    rows = [
        (check_id, pid, f"{reason} [planted: {export.planted[pid].key}]")
        for (check_id, pid), reason in sorted(flags.items())
    ]
    write_csv(flags_path, ("check_id", "patient_id", "why"), rows)
    quarantine = [(name, str(line), column, rule) for name, line, column, rule in planted_quarantine(export)]
    write_csv(quarantine_path, ("file", "line", "column", "rule_hint"), quarantine)


def summary(export: Export, flags: dict[tuple[str, str], str]) -> str:
    """Row counts, planted patients per check and flags per check, for the console."""
    lines = [
        f"{name}: {len(rows)} rows ({sum(r.bad is not None for r in rows)} bad)"
        for name, rows in export.rows.items()
    ]
    births = [date.fromisoformat(r.values[1]) for r in export.rows["patients.csv"]]
    older = sum(age_on(b, AS_OF) >= 65 for b in births)
    lines.append(
        f"patients aged 65+: {older}/{len(births)}; planted {len(export.planted)}, "
        f"background {len(export.background)}"
    )
    for check_id in CHECK_IDS:
        built = [s for s in export.planted.values() if s.check == check_id]
        flagged = sum(1 for c, _ in flags if c == check_id)
        lines.append(
            f"{check_id}: planted {sum(check_id in s.flags for s in built)} flagged + "
            f"{sum(check_id not in s.flags for s in built)} controls; "
            f"expected flags {flagged}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; defaults write the committed sample into sample_data/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE / "clinic_export", help="folder for the four export CSV files"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument(
        "--flags", type=Path, default=HERE / "expected_flags.csv", help="where to write expected_flags.csv"
    )
    parser.add_argument(
        "--quarantine",
        type=Path,
        default=HERE / "quarantine_expected.csv",
        help="where to write quarantine_expected.csv",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, write, re-read, verify, then write the answer files."""
    args = parse_args(argv)
    export = build_export(args.seed, args.patients)
    write_export(export, args.out)
    flags = derive_expected_flags(args.out)
    verify(export, flags, args.out)
    write_answers(flags, export, args.flags, args.quarantine)
    print(summary(export, flags))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
