"""How tests and drugs appear in exports, the events a patient is made of, and ``plant``: the
building blocks the scenarios and the background patients are written in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .shared import AS_OF

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
    "albumin": (36, 44),  # with calcium from 2.2: corrected (issue #15) at least 2.12, never low
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
