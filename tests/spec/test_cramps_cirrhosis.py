"""Spec: cramps_cirrhosis, as of 2026-11-20 (cramp window starts 2025-11-20)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "cramps_cirrhosis"

DIAGNOSES = table("""
patient_id | code     | code_system | recorded_at | resolved_at
# ICD-10-CM with dots, no electrolytes at all: high priority
C01        | K70.30   | ICD-10-CM   | 2024-01-01  |
C01        | R25.2    | ICD-10-CM   | 2026-06-01  |
C01        | R25.2    | ICD-10-CM   | 2026-09-21  |
# codes without the dot
C02        | K7031    | ICD-10-CM   | 2024-01-01  |
C02        | R252     | ICD-10-CM   | 2026-06-01  |
# ICD-9-CM
C03        | 571.5    | ICD-9-CM    | 2020-01-01  |
C03        | 729.82   | ICD-9-CM    | 2026-02-01  |
# SNOMED-CT
C04        | 19943007 | SNOMED-CT   | 2022-01-01  |
C04        | 55300003 | SNOMED-CT   | 2026-02-01  |
# cirrhosis resolved before as-of: not in the population
C05        | K74.60   | ICD-10-CM   | 2022-01-01  | 2025-01-01
C05        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cramp 366 days before as-of: outside the window
C06        | K74.60   | ICD-10-CM   | 2022-01-01  |
C06        | R25.2    | ICD-10-CM   | 2025-11-19  |
# cramp exactly 365 days before as-of: inside
C07        | K74.69   | ICD-10-CM   | 2022-01-01  |
C07        | R25.2    | ICD-10-CM   | 2025-11-20  |
# cramps without cirrhosis
C08        | R25.2    | ICD-10-CM   | 2026-06-01  |
# cirrhosis recorded after as-of
C09        | K74.60   | ICD-10-CM   | 2026-11-21  |
C09        | R25.2    | ICD-10-CM   | 2026-06-01  |
# recent normal electrolytes and baclofen: normal priority
C10        | K74.60   | ICD-10-CM   | 2022-01-01  |
C10        | R25.2    | ICD-10-CM   | 2026-09-01  |
# recent low potassium: high priority
C11        | K74.69   | ICD-10-CM   | 2022-01-01  |
C11        | R25.2    | ICD-10-CM   | 2026-09-01  |
# K71.7 toxic liver disease with cirrhosis; ICD-9 571.6
C12        | K71.7    | ICD-10-CM   | 2022-01-01  |
C12        | R25.2    | ICD-10-CM   | 2026-09-01  |
C13        | 571.6    | ICD-9-CM    | 2022-01-01  |
C13        | 729.82   | ICD-9-CM    | 2026-09-01  |
# alcoholic fatty liver is not cirrhosis
C14        | K70.0    | ICD-10-CM   | 2022-01-01  |
C14        | R25.2    | ICD-10-CM   | 2026-09-01  |
# cirrhosis resolved only after as-of: still in the population on as-of
C15        | K74.60   | ICD-10-CM   | 2022-01-01  | 2026-11-21
C15        | R25.2    | ICD-10-CM   | 2026-09-01  |
# a low potassium of 2023, normal sodium and magnesium last month: the old low says nothing now
C16        | K74.60   | ICD-10-CM   | 2022-01-01  |
C16        | R25.2    | ICD-10-CM   | 2026-09-01  |
""")

LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
C10        | 2026-10-01   | 2823-3     |           | 4.1   | mmol/L
C10        | 2026-10-01   | 2951-2     |           | 139   | mmol/L
C10        | 2026-10-01   | 19123-9    |           | 2.0   | mg/dL
C11        | 2026-10-01   | 2823-3     |           | 3.1   | mmol/L
C11        | 2026-10-01   | 2951-2     |           | 139   | mmol/L
C16        | 2023-05-01   | 2823-3     |           | 3.1   | mmol/L
C16        | 2026-10-01   | 2951-2     |           | 139   | mmol/L
C16        | 2026-10-01   | 2601-3     |           | 0.85  | mmol/L
""")

PRESCRIPTIONS = table("""
patient_id | drug_name                | rxnorm_code | atc_code | start_date | end_date | days_supply
C10        | baclofen 10 mg           | 1292        | M03BX01  | 2026-09-05 |          | 30
C10        | spironolactone 100 mg    | 9997        | C03DA01  | 2025-01-01 |          |
""")

TABLES = {"diagnoses": DIAGNOSES, "labs": LABS, "prescriptions": PRESCRIPTIONS}

EXPECTED = {
    "C01": "high",  # ICD-10-CM with dots, no electrolytes at all
    "C02": "high",  # codes without the dot
    "C03": "high",  # ICD-9-CM
    "C04": "high",  # SNOMED-CT
    "C05": OUT,  # cirrhosis resolved before as-of
    "C06": None,  # cramp 366 days before as-of (in the population: cirrhosis)
    "C07": "high",  # cramp exactly 365 days before as-of
    "C08": OUT,  # cramps without cirrhosis
    "C09": OUT,  # cirrhosis recorded after as-of
    "C10": "normal",  # recent normal electrolytes and baclofen
    "C11": "high",  # recent low potassium
    "C12": "high",  # K71.7 toxic liver disease with cirrhosis
    "C13": "high",  # ICD-9 571.6
    "C14": OUT,  # alcoholic fatty liver is not cirrhosis
    "C15": "high",  # cirrhosis resolved only after as-of
    "C16": "normal",  # a low potassium of 2023 only; recent sodium and magnesium normal
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_priority_and_evidence(tmp_path):
    spec(
        tmp_path,
        reason={
            # the cramps since the first (when the flag fell due), the latest named: the latest alone
            # beside an 'overdue' counted from the first read as a mistake
            "C01": "muscle cramps recorded since 2026-06-01 (latest 2026-09-21) with cirrhosis (K70.30); "
            "no potassium, sodium or magnesium in the last 90 days...",
            "C02": "muscle cramps recorded 2026-06-01 with cirrhosis...",
            "C11": "...below range...",
        },
        evidence={
            "C10": {
                "baclofen_prescribed": True,
                "albumin_prescribed": False,
                "current_diuretics": "spironolactone 100 mg",
                "last_magnesium": "0.82",  # 2.0 mg/dL x 0.4114 = 0.8228 mmol/L, shown to 2 decimals
                "cramp_codes": "R25.2 (ICD-10-CM)",
            },
            "C02": {"cirrhosis_codes": "K7031"},
        },
    )


# Issue 15, round 2: SNOMED CT cirrhosis concepts from the OpenSAFELY cirrhosis codelist, including the
# complications whose term names cirrhosis (coded in its place). Portal hypertension alone is
# deliberately not cirrhosis: it has non-cirrhotic causes (portal vein thrombosis, schistosomiasis).
SNOMED_DIAGNOSES = table("""
patient_id | code             | code_system | recorded_at | resolved_at
C51        | 716203000        | SNOMED-CT   | 2024-01-01  |
C51        | R25.2            | ICD-10-CM   | 2026-06-01  |
C52        | 1082601000119104 | SNOMED-CT   | 2024-01-01  |
C52        | R25.2            | ICD-10-CM   | 2026-06-01  |
C53        | 897004000        | SNOMED-CT   | 2024-01-01  |
C53        | R25.2            | ICD-10-CM   | 2026-06-01  |
C54        | 34742003         | SNOMED-CT   | 2024-01-01  |
C54        | R25.2            | ICD-10-CM   | 2026-06-01  |
""")


def test_snomed_cirrhosis_and_its_named_complications_are_seen(tmp_path):
    expected = {"C51": "high", "C52": "high", "C53": "high", "C54": OUT}  # C54: portal hypertension
    evidence = {"C51": {"cirrhosis_codes": "...716203000..."}}
    check_spec(tmp_path, CHECK, AS_OF, {"diagnoses": SNOMED_DIAGNOSES}, expected, evidence=evidence)


# Review 2026-11 round 2: congenital cirrhosis (P78.81) is cirrhosis; chronic hepatic failure (K72.1x, whose
# inclusion term is "End stage liver disease") is end-stage, decompensated cirrhosis in practice, as the
# SNOMED list already reads 708248004 end-stage liver disease. Acute (K72.0x) and unspecified (K72.9x)
# hepatic failure and hepatic encephalopathy (K76.82, coded with its underlying disease, which may be
# acute failure, viral hepatitis or a portosystemic shunt) do not say cirrhosis.
HEPATIC_DIAGNOSES = table(
    "patient_id | code | code_system | recorded_at | resolved_at\n"
    + "\n".join(
        f"{p} | {code} | ICD-10-CM | 2024-01-01 |\n{p} | R25.2 | ICD-10-CM | 2026-06-01 |"
        for p, code in {
            "C61": "P78.81",
            "C62": "K72.10",
            "C63": "K7211",
            "C64": "K72.00",
            "C65": "K72.90",
            "C66": "K76.82",
        }.items()
    )
)


def test_congenital_cirrhosis_and_chronic_hepatic_failure_are_cirrhosis(tmp_path):
    expected = {"C61": "high", "C62": "high", "C63": "high", "C64": OUT, "C65": OUT, "C66": OUT}
    evidence = {"C61": {"cirrhosis_codes": "P78.81"}, "C63": {"cirrhosis_codes": "K7211"}}
    check_spec(tmp_path, CHECK, AS_OF, {"diagnoses": HEPATIC_DIAGNOSES}, expected, evidence=evidence)


# Review 2026-11 round 2: the sodium of the priority rule under the names laboratories export. Each patient has
# cirrhosis, a cramp and one normal sodium by name only, collected in the last 90 days: it was measured.
NAMED_SODIUM = ["Serum sodium level", "Sodium (Na+)", "Na+ (Sodium)", "Sodium, S", "Plasma sodium level"]
SODIUM_TABLES = {
    "diagnoses": table(
        "patient_id | code | code_system | recorded_at | resolved_at\n"
        + "\n".join(
            f"S{i:02d} | K74.60 | ICD-10-CM | 2024-01-01 |\nS{i:02d} | R25.2 | ICD-10-CM | 2026-10-01 |"
            for i in range(1, len(NAMED_SODIUM) + 2)
        )
    ),
    "labs": table(
        "patient_id | collected_at | loinc_code | test_name | value | unit\n"
        + "\n".join(f"S{i:02d} | 2026-10-01 | | {n} | 139 | mmol/L" for i, n in enumerate(NAMED_SODIUM, 1))
        + f"\nS{len(NAMED_SODIUM) + 1:02d} | 2026-10-01 | | Urine sodium | 40 | mmol/L"
    ),
}


def test_sodium_named_as_laboratories_export_it_is_measured(tmp_path):
    expected = {f"S{i:02d}": "normal" for i in range(1, len(NAMED_SODIUM) + 1)} | {"S06": "high"}
    check_spec(tmp_path, CHECK, AS_OF, SODIUM_TABLES, expected)


# Review 2026-11-30: a visit-based export (OMOP ETLs from claims) closes every condition record on the day
# it was recorded. Cirrhosis does not resolve that day: L01 is still cirrhotic; L02's resolution a day
# later is one (the export says so); a cramp with the same shape stays a cramp in the window.
LASTING_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
L01        | K74.60 | ICD-10-CM   | 2024-03-01  | 2024-03-01
L01        | R25.2  | ICD-10-CM   | 2026-06-01  | 2026-06-01
L02        | K74.60 | ICD-10-CM   | 2024-03-01  | 2024-03-02
L02        | R25.2  | ICD-10-CM   | 2026-06-01  | 2026-06-01
""")


def test_cirrhosis_ended_the_day_it_was_recorded_is_still_cirrhosis(tmp_path):
    check_spec(tmp_path, CHECK, AS_OF, {"diagnoses": LASTING_DIAGNOSES}, {"L01": "high", "L02": OUT})
