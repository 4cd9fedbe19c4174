"""The independent oracle, part one: it reads the CSV files back knowing only codes, names and
units (its own code sets, from sample_data/VOCABULARY.md and the issues), never the writer's
catalogue and never checks/."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from .shared import AS_OF

# =========================================================================== reference evaluator
# Independent of the writer (events.py, export.py): it reads the CSV files back and knows only
# codes, names and the rules below. Its code sets come from sample_data/VOCABULARY.md and the issues.

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
    # review 2026-12: CKD stage 1-2, which re-stage an earlier stage 3-5 code
    "ckd1_2": {"ICD-10-CM": ("N181", "N182"), "ICD-9-CM": ("5851", "5852"),
               "SNOMED-CT": ("431855005", "431856006")},
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
    refill_gap: int = 30  # a repeat medicine is still taken this many days after a prescription ends


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
    sex: str = ""
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
    # a resolved date before the recorded one loads as sent, noted (a soft rule): no failure here
    recorded, resolved = parse_when(raw["recorded_at"]), parse_when(raw["resolved_at"])
    if recorded is None or system not in SYSTEMS:
        return None, fails
    dx = Diagnosis(
        code, concepts_of(code, system, reading), recorded.date(), resolved.date() if resolved else None
    )
    return dx, fails


@dataclass(frozen=True)
class PatientFacts:
    """What patients.csv says about a patient: birth, sex, and death (dated or not)."""

    birth: date | None
    death: date | None
    deceased: bool
    sex: str = ""


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
    facts = PatientFacts(born.date() if born else None, died.date() if died else None, dead, raw["sex"])
    return facts, fails


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
                target.sex = item.sex
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
