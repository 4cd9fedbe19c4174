"""A seeded generator of large synthetic clinics in the generic export format, with planted truth.

Usage:  python -m tests.bench.synthetic_clinic OUT_DIR --patients 100000 [--seed 1] [--night2 DIR]

Every patient draws one *scenario* for each core check (diuretic monitoring, cramps in cirrhosis)
from a seeded hash of their number. The scenario decides the rows planted for them (a diuretic
active or ended, potassium/sodium inside or outside the lookback, urine or haemolysed results,
cirrhosis open or resolved, cramps inside or outside 365 days, ...). Background rows (about 30 labs,
5 prescriptions, 5 diagnoses per patient) never touch what a scenario controls: no diuretic, no
cirrhosis or cramp code, and no blood potassium/sodium for a patient whose diuretic scenario decides
them. So the expected flags follow from the scenario labels alone (`SCENARIOS` below), independently
of the checks' SQL.

All rows are produced by DuckDB queries written with COPY; there is no per-row Python.
A second night's export (`night2`) keeps the same rows except the oldest 1% of background rows,
and adds 1% new rows dated the day after the as-of date: a rolling window overlapping by 99%.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

AS_OF = date(2026, 11, 20)
SPAN_DAYS = 5 * 365  # background rows are spread over the five years up to the as-of date
DROP_SHARE = 0.01  # night 2 drops the oldest 1% of background rows and adds 1% new ones

# Scenario -> (share of patients, flagged, priority). The expected flags are read off this table.
DIURETIC: dict[str, tuple[float, bool, str | None]] = {
    "D_OK": (0.060, False, None),  # active diuretic, blood K and Na in the window
    "D_K_ONLY": (0.010, True, "normal"),  # sodium only older than 365 days
    "D_NA_ONLY": (0.010, True, "normal"),  # potassium only in urine (and old blood K)
    "D_NONE": (0.015, True, "high"),  # no K/Na at all, or both older than the window
    "D_HAEMOLYSED": (0.005, True, "normal"),  # K in the window without a numeric value
    "D_BOUNDARY_IN": (0.002, False, None),  # K and Na exactly 365 days before as-of
    "D_BOUNDARY_OUT": (0.002, True, "normal"),  # K 366 days before as-of
    "D_FUTURE_LAB": (0.002, True, "normal"),  # K only the day after as-of
    "D_ENDED": (0.020, False, None),  # ended 31+ days before as-of, past its refill gap: not in it
    "D_ENDS_TODAY": (0.003, True, "high"),  # diuretic ends on as-of: still active
    "D_FUTURE_START": (0.003, False, None),  # diuretic starts after as-of
}
CIRRHOSIS: dict[str, tuple[float, bool, str | None]] = {
    "C_FLAG": (0.006, True, None),  # open cirrhosis, cramp within 365 days
    "C_FLAG_EDGE": (0.0005, True, None),  # cramp exactly 365 days before as-of
    "C_RESOLVED_LATER": (0.0005, True, None),  # cirrhosis resolved the day after as-of
    "C_OLD_CRAMP": (0.003, False, None),  # cramp 366+ days before as-of
    "C_NO_CRAMP": (0.006, False, None),
    "C_RESOLVED": (0.002, False, None),  # resolved on or before as-of, recent cramp
    "C_LATE_CIRRHOSIS": (0.0005, False, None),  # cirrhosis recorded after as-of
    "C_FUTURE_CRAMP": (0.0005, False, None),  # cramp only after as-of
    "CRAMP_ONLY": (0.020, False, None),  # cramps without cirrhosis
}
SCENARIOS = {"diuretic_electrolyte_monitoring": DIURETIC, "cramps_cirrhosis": CIRRHOSIS}
# A clinic in which every patient is on a diuretic with no electrolytes: for the report benchmark.
ALL_UNMONITORED = {"D_NONE": (1.0, True, "high")}

# idx, loinc, test name, unit, low, high, decimals. 0-3 are blood K/Na; 13 is urine potassium.
LABS = [
    (0, "2823-3", "Potassium", "mmol/L", 3.6, 5.0, 1),
    (1, None, "Serum potassium", "mmol/L", 3.6, 5.0, 1),
    (2, "2951-2", "Sodium", "mmol/L", 135, 145, 0),
    (3, None, "Na", "mmol/L", 135, 145, 0),
    (4, "2160-0", "Creatinine", "umol/L", 50, 130, 0),
    (5, "98979-8", "eGFR", "mL/min/1.73m2", 45, 110, 0),
    (6, "2345-7", "Glucose", "mmol/L", 4.3, 9.0, 1),
    (7, "4548-4", "HbA1c", "%", 5.0, 8.6, 1),
    (8, "1742-6", "ALT", "U/L", 10, 42, 0),
    (9, "1751-7", "Albumin", "g/L", 36, 47, 0),
    (10, "3016-3", "TSH", "mIU/L", 0.6, 3.8, 2),
    (11, "2601-3", "Magnesium", "mmol/L", 0.72, 0.98, 2),
    (12, "2000-8", "Calcium", "mmol/L", 2.2, 2.55, 2),
    (13, "2828-2", "Urine potassium", "mmol/L", 25, 90, 0),
    (14, None, "Creatinine", "umol/L", 50, 130, 0),
]
DIURETICS = [
    ("furosemide 40 mg tablet", "4603", "C03CA01"),
    ("Lasix 20mg", None, None),
    ("FUROSEMIDE", None, "C03CA01"),
    ("bendroflumethiazide 2.5 mg tablet", None, "C03AA01"),
    ("indapamide 1.5 mg MR tablet", "5764", "C03BA11"),
    ("spironolactone 25 mg tablet", "9997", "C03DA01"),
    ("lisinopril / hydrochlorothiazide 20/12.5 mg", None, "C09BA03"),
    ("co-amilofruse 5/40 tablet", None, "C03EB01"),
    ("bumetanide 1 mg tablet", "1808", None),
    ("eplerenone 25 mg tablet", "298869", "C03DA04"),
]
OTHER_DRUGS = [
    ("amlodipine 5 mg tablet", None, "C08CA01"),
    ("metformin 500 mg tablet", "6809", "A10BA02"),
    ("atorvastatin 20 mg tablet", "83367", "C10AA05"),
    ("lisinopril 10 mg tablet", "29046", "C09AA03"),
    ("omeprazole 20 mg capsule", None, "A02BC01"),
    ("sertraline 50 mg tablet", None, "N06AB06"),
    ("levothyroxine 100 mcg tablet", None, "H03AA01"),
    ("insulin glargine 100 units/mL", "274783", "A10AE04"),
    ("Humalog KwikPen", None, None),
    ("paracetamol 500 mg tablet", "161", "N02BE01"),
    ("baclofen 10 mg tablet", None, "M03BX01"),
    ("albumin human 20% infusion", None, "B05AA01"),
    ("bisoprolol 5 mg tablet", None, "C07AB07"),
    ("losartan 50 mg tablet", None, "C09CA01"),
    ("potassium chloride 600 mg MR tablet", None, "A12BA01"),
]
CIRRHOSIS_CODES = [
    ("K70.30", "ICD-10-CM"),
    ("K7031", "ICD-10-CM"),
    ("K74.60", "ICD-10-CM"),
    ("K74.69", "ICD-10-CM"),
    ("K71.7", "ICD-10-CM"),
    ("571.5", "ICD-9-CM"),
    ("571.2", "ICD-9-CM"),
    ("19943007", "SNOMED-CT"),
]
CRAMP_CODES = [
    ("R25.2", "ICD-10-CM"),
    ("R252", "ICD-10-CM"),
    ("729.82", "ICD-9-CM"),
    ("55300003", "SNOMED-CT"),
    ("G47.62", "ICD-10-CM"),
]
# Background diagnoses, with near misses: K74.0 (fibrosis), K76.0 (fatty liver), R25.1 (tremor).
OTHER_CODES = [
    ("I10", "ICD-10-CM"),
    ("E11.9", "ICD-10-CM"),
    ("E78.5", "ICD-10-CM"),
    ("M17.11", "ICD-10-CM"),
    ("J45.909", "ICD-10-CM"),
    ("K21.9", "ICD-10-CM"),
    ("F32.9", "ICD-10-CM"),
    ("E03.9", "ICD-10-CM"),
    ("N18.30", "ICD-10-CM"),
    ("K76.0", "ICD-10-CM"),
    ("K74.0", "ICD-10-CM"),
    ("R25.1", "ICD-10-CM"),
    ("M79.10", "ICD-10-CM"),
    ("401.9", "ICD-9-CM"),
    ("38341003", "SNOMED-CT"),
    ("250.00", "ICD-9-CM"),
]


@dataclass(frozen=True)
class Clinic:
    """What was written: the export folder(s), row counts per file, and the planted truth."""

    export: Path
    night2: Path | None
    rows: dict[str, int]
    expected: dict[str, dict[str, str | None]]  # check id -> {patient_id: priority}
    seconds: float


def _scenario_case(mix: dict[str, tuple[float, bool, str | None]], salt: int, default: str) -> str:
    """A CASE choosing each patient's scenario by cumulative share of a seeded uniform draw."""
    arms, total = [], 0.0
    for name, (share, _, _) in mix.items():
        total += share
        arms.append(f"WHEN u(i, {salt}) < {total!r} THEN '{name}'")
    return f"CASE {' '.join(arms)} ELSE '{default}' END" if arms else f"'{default}'"


def _catalog(con, name: str, columns: str, rows: list[tuple]) -> None:
    con.execute(f"CREATE TABLE {name} ({columns})")
    marks = ", ".join("?" * len(rows[0]))
    con.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(r) for r in rows])


def _setup(con, patients: int, seed: int, diuretic_mix: dict, cirrhosis_mix: dict) -> None:
    """Catalogs, the seeded uniform macro and the patient table with its scenarios."""
    seed = int(seed)
    # hash() is DuckDB's own stable hash: the same seed gives the same clinic on this DuckDB version.
    con.execute(f"CREATE MACRO u(i, salt) AS (hash(i, salt, {seed}) % 1000003)::DOUBLE / 1000003")
    con.execute(f"CREATE MACRO ago(d) AS DATE '{AS_OF.isoformat()}' - CAST(d AS INTEGER)")
    _catalog(con, "lab_cat", "idx INT, loinc TEXT, name TEXT, unit TEXT, lo DOUBLE, hi DOUBLE, dec INT", LABS)
    _catalog(con, "diuretic_cat", "idx INT, drug TEXT, rxnorm TEXT, atc TEXT", _indexed(DIURETICS))
    _catalog(con, "drug_cat", "idx INT, drug TEXT, rxnorm TEXT, atc TEXT", _indexed(OTHER_DRUGS))
    _catalog(con, "cirr_cat", "idx INT, code TEXT, sys TEXT", _indexed(CIRRHOSIS_CODES))
    _catalog(con, "cramp_cat", "idx INT, code TEXT, sys TEXT", _indexed(CRAMP_CODES))
    _catalog(con, "dx_cat", "idx INT, code TEXT, sys TEXT", _indexed(OTHER_CODES))
    con.execute(
        f"""
        CREATE TABLE pt AS
        SELECT i, printf('P%08d', i) AS patient_id,
               ago(6570 + u(i, 2) * 25000) AS birth_date,
               CASE WHEN u(i, 3) < 0.5 THEN 'F' ELSE 'M' END AS sex,
               {_scenario_case(diuretic_mix, 4, "none")} AS d_scn,
               {_scenario_case(cirrhosis_mix, 5, "none")} AS c_scn,
               20 + CAST(floor(u(i, 6) * 21) AS INTEGER) AS n_labs,
               2 + CAST(floor(u(i, 7) * 7) AS INTEGER) AS n_rx,
               2 + CAST(floor(u(i, 8) * 7) AS INTEGER) AS n_dx
        FROM range({int(patients)}) t(i)
        """
    )
    # Patients whose blood K/Na the diuretic scenario decides: no such background labs for them.
    con.execute("ALTER TABLE pt ADD COLUMN controlled BOOLEAN")
    con.execute("UPDATE pt SET controlled = d_scn NOT IN ('none', 'D_ENDED', 'D_FUTURE_START')")


def _indexed(rows: list[tuple]) -> list[tuple]:
    return [(i, *r) for i, r in enumerate(rows)]


PLANTED_LABS = """
-- (patient, lab catalog idx, days before as-of, empty value?) per diuretic scenario
WITH p AS (SELECT i, d_scn FROM pt WHERE controlled),
k AS (SELECT i, d_scn, CAST(u(i, 20) < 0.5 AS INTEGER) AS kx, 2 + CAST(u(i, 21) < 0.5 AS INTEGER) AS nx,
             floor(u(i, 22) * 365) AS win1, floor(u(i, 23) * 365) AS win2,
             400 + floor(u(i, 24) * 500) AS old FROM p)
SELECT i, kx AS idx, win1 AS days, false AS empty FROM k
 WHERE d_scn IN ('D_OK', 'D_K_ONLY')
UNION ALL SELECT i, kx, old, false FROM k WHERE d_scn IN ('D_OK', 'D_NA_ONLY')
UNION ALL SELECT i, nx, win2, false FROM k
 WHERE d_scn IN ('D_OK', 'D_NA_ONLY', 'D_HAEMOLYSED', 'D_BOUNDARY_OUT', 'D_FUTURE_LAB')
UNION ALL SELECT i, nx, old, false FROM k WHERE d_scn = 'D_K_ONLY'
UNION ALL SELECT i, 13, win1, false FROM k WHERE d_scn = 'D_NA_ONLY'
UNION ALL SELECT i, kx, old, false FROM k WHERE d_scn = 'D_NONE' AND u(i, 25) < 0.5
UNION ALL SELECT i, nx, old + 10, false FROM k WHERE d_scn = 'D_NONE' AND u(i, 25) < 0.5
UNION ALL SELECT i, kx, win1, true FROM k WHERE d_scn = 'D_HAEMOLYSED'
UNION ALL SELECT i, kx, 365, false FROM k WHERE d_scn = 'D_BOUNDARY_IN'
UNION ALL SELECT i, nx, 365, false FROM k WHERE d_scn = 'D_BOUNDARY_IN'
UNION ALL SELECT i, kx, 366, false FROM k WHERE d_scn = 'D_BOUNDARY_OUT'
UNION ALL SELECT i, kx, -1, false FROM k WHERE d_scn = 'D_FUTURE_LAB'
"""

# Background labs: patient i's k-th lab. Controlled patients draw from catalog 4..14 only.
BACKGROUND_LABS = """
SELECT i, CASE WHEN controlled THEN 4 + CAST(floor(u(i * 64 + k, 11) * 11) AS INTEGER)
               ELSE CAST(floor(u(i * 64 + k, 11) * 13) AS INTEGER) END AS idx,
       floor(u(i * 64 + k, 12) * {span}) AS days, false AS empty, u(i * 64 + k, 13) AS v
FROM (SELECT i, controlled, unnest(range(n_labs)) AS k FROM pt)
"""

NEW_LABS = """
SELECT i, CASE WHEN controlled THEN 4 + CAST(floor(u(j, 31) * 11) AS INTEGER)
               ELSE CAST(floor(u(j, 31) * 13) AS INTEGER) END AS idx,
       -1 AS days, false AS empty, u(j, 32) AS v
FROM (SELECT j, CAST(floor(u(j, 30) * {patients}) AS BIGINT) AS i FROM range({count}) t(j))
JOIN pt USING (i)
"""


def _lab_rows(source: str) -> str:
    """Lab rows in the export's columns from (i, idx, days, empty, v) rows."""
    return f"""
    SELECT pt.patient_id,
           strftime(ago(s.days) + to_minutes(CAST(420 + floor(u(s.i * 7919 + s.idx, s.days) * 720)
                    AS BIGINT)), '%Y-%m-%dT%H:%M:%S') AS collected_at,
           c.loinc AS loinc_code, c.name AS test_name,
           CASE WHEN s.empty THEN NULL
                ELSE CAST(round(c.lo + coalesce(s.v, 0.5) * (c.hi - c.lo), c.dec) AS VARCHAR) END AS value,
           c.unit
    FROM ({source}) s JOIN pt USING (i) JOIN lab_cat c ON c.idx = s.idx
    """


PLANTED_RX = """
WITH p AS (SELECT i, d_scn, CAST(floor(u(i, 40) * 10) AS INTEGER) AS idx, u(i, 41) AS how,
                  30 + floor(u(i, 42) * 1970) AS start_ago, 30 + floor(u(i, 43) * 170) AS short_ago,
                  floor(u(i, 44) * 60) AS slack
           FROM pt WHERE d_scn <> 'none')
SELECT i, idx, CASE WHEN how < 0.8 THEN start_ago ELSE short_ago END AS start_days,
       CASE WHEN how >= 0.5 AND how < 0.8 THEN -30 - slack * 4 END AS end_days,
       CASE WHEN how >= 0.8 THEN short_ago + slack END AS supply
FROM p WHERE d_scn NOT IN ('D_ENDED', 'D_ENDS_TODAY', 'D_FUTURE_START')
UNION ALL
SELECT i, idx, CASE WHEN how < 0.5 THEN start_ago + 300 ELSE short_ago + 130 END,
       CASE WHEN how < 0.5 THEN 31 + slack * 4 END,
       CASE WHEN how >= 0.5 THEN short_ago + 99 - slack END
FROM p WHERE d_scn = 'D_ENDED'
UNION ALL SELECT i, idx, start_ago, 0, NULL FROM p WHERE d_scn = 'D_ENDS_TODAY'
UNION ALL SELECT i, idx, -1, NULL, NULL FROM p WHERE d_scn = 'D_FUTURE_START'
"""

BACKGROUND_RX = """
SELECT i, CAST(floor(u(i * 16 + k, 50) * {n}) AS INTEGER) AS idx,
       floor(u(i * 16 + k, 51) * {span}) AS start_days, u(i * 16 + k, 52) AS how
FROM (SELECT i, unnest(range(n_rx)) AS k FROM pt)
"""

NEW_RX = """
SELECT CAST(floor(u(j, 60) * {patients}) AS BIGINT) AS i, CAST(floor(u(j, 61) * {n}) AS INTEGER) AS idx,
       -1 AS start_days, u(j, 62) AS how
FROM range({count}) t(j)
"""


def _background_rx_rows(source: str) -> str:
    """Non-diuretic prescriptions: 40% open-ended, 30% with an end date, 30% with days supply."""
    return f"""
    SELECT pt.patient_id, c.drug AS drug_name, c.rxnorm AS rxnorm_code, c.atc AS atc_code,
           strftime(ago(s.start_days), '%Y-%m-%d') AS start_date,
           CASE WHEN s.how >= 0.4 AND s.how < 0.7
                THEN strftime(ago(s.start_days) + CAST(30 + floor(s.how * 400) AS INTEGER), '%Y-%m-%d')
           END AS end_date,
           CASE WHEN s.how >= 0.7 THEN CAST([28, 56, 84][1 + CAST(floor((s.how - 0.7) * 10) AS INTEGER)
                % 3] AS VARCHAR) END AS days_supply
    FROM ({source}) s JOIN pt USING (i) JOIN drug_cat c ON c.idx = s.idx
    """


PLANTED_RX_ROWS = f"""
SELECT pt.patient_id, c.drug, c.rxnorm, c.atc, strftime(ago(s.start_days), '%Y-%m-%d'),
       strftime(ago(s.end_days), '%Y-%m-%d'), CAST(CAST(s.supply AS INTEGER) AS VARCHAR)
FROM ({PLANTED_RX}) s JOIN pt USING (i) JOIN diuretic_cat c ON c.idx = s.idx
"""

PLANTED_DX = """
WITH p AS (SELECT i, c_scn, CAST(floor(u(i, 70) * 8) AS INTEGER) AS ci,
                  CAST(floor(u(i, 71) * 5) AS INTEGER) AS ki,
                  400 + floor(u(i, 72) * 1100) AS since, floor(u(i, 73) * 365) AS win,
                  366 + floor(u(i, 74) * 1000) AS old
           FROM pt WHERE c_scn <> 'none')
SELECT i, 'cirr' AS kind, ci AS idx, since AS days, NULL::DOUBLE AS resolved FROM p
 WHERE c_scn NOT IN ('CRAMP_ONLY', 'C_LATE_CIRRHOSIS', 'C_RESOLVED', 'C_RESOLVED_LATER')
UNION ALL SELECT i, 'cirr', ci, since, floor(u(i, 75) * 200) FROM p WHERE c_scn = 'C_RESOLVED'
UNION ALL SELECT i, 'cirr', ci, since, -1 FROM p WHERE c_scn = 'C_RESOLVED_LATER'
UNION ALL SELECT i, 'cirr', ci, -1, NULL FROM p WHERE c_scn = 'C_LATE_CIRRHOSIS'
UNION ALL SELECT i, 'cramp', ki, win, NULL FROM p
 WHERE c_scn IN ('C_FLAG', 'C_RESOLVED', 'C_RESOLVED_LATER', 'C_LATE_CIRRHOSIS', 'CRAMP_ONLY')
UNION ALL SELECT i, 'cramp', ki, old, NULL FROM p WHERE c_scn IN ('C_OLD_CRAMP', 'C_FUTURE_CRAMP')
UNION ALL SELECT i, 'cramp', (ki + 1) % 5, old + 30, NULL FROM p WHERE c_scn = 'C_FLAG' AND u(i, 76) < 0.3
UNION ALL SELECT i, 'cramp', ki, 365, NULL FROM p WHERE c_scn = 'C_FLAG_EDGE'
UNION ALL SELECT i, 'cramp', ki, -1, NULL FROM p WHERE c_scn = 'C_FUTURE_CRAMP'
"""

PLANTED_DX_ROWS = f"""
SELECT pt.patient_id, coalesce(a.code, b.code), coalesce(a.sys, b.sys), strftime(ago(s.days), '%Y-%m-%d'),
       strftime(ago(s.resolved), '%Y-%m-%d')
FROM ({PLANTED_DX}) s JOIN pt USING (i)
LEFT JOIN cirr_cat a ON s.kind = 'cirr' AND a.idx = s.idx
LEFT JOIN cramp_cat b ON s.kind = 'cramp' AND b.idx = s.idx
"""

BACKGROUND_DX = """
SELECT i, CAST(floor(u(i * 16 + k, 80) * {n}) AS INTEGER) AS idx,
       floor(u(i * 16 + k, 81) * {span}) AS days, u(i * 16 + k, 82) AS how
FROM (SELECT i, unnest(range(n_dx)) AS k FROM pt)
"""

NEW_DX = """
SELECT CAST(floor(u(j, 90) * {patients}) AS BIGINT) AS i, CAST(floor(u(j, 91) * {n}) AS INTEGER) AS idx,
       -1 AS days, u(j, 92) AS how
FROM range({count}) t(j)
"""


def _background_dx_rows(source: str) -> str:
    """Background diagnoses; one in ten is resolved (after it was recorded, never in the future)."""
    return f"""
    SELECT pt.patient_id, c.code, c.sys AS code_system, strftime(ago(s.days), '%Y-%m-%d') AS recorded_at,
           CASE WHEN s.how < 0.1 AND s.days > 0
                THEN strftime(ago(s.days * s.how * 10), '%Y-%m-%d') END AS resolved_at
    FROM ({source}) s JOIN pt USING (i) JOIN dx_cat c ON c.idx = s.idx
    """


HEADERS = {
    "labs": "patient_id, collected_at, loinc_code, test_name, value, unit",
    "prescriptions": "patient_id, drug_name, rxnorm_code, atc_code, start_date, end_date, days_supply",
    "diagnoses": "patient_id, code, code_system, recorded_at, resolved_at",
}


def _queries(patients: int, night: int) -> dict[str, str]:
    """The four files' queries for night 1 or night 2 (rolling window)."""
    keep = f"WHERE days < {SPAN_DAYS * (1 - DROP_SHARE)!r}" if night == 2 else ""
    fmt = {"span": SPAN_DAYS, "patients": int(patients)}
    labs = _lab_rows(f"SELECT i, idx, days, empty, NULL::DOUBLE AS v FROM ({PLANTED_LABS})")
    labs += " UNION ALL " + _lab_rows(f"SELECT * FROM ({BACKGROUND_LABS.format(**fmt)}) {keep}")
    rx = (
        PLANTED_RX_ROWS
        + " UNION ALL "
        + _background_rx_rows(
            f"SELECT * FROM ({BACKGROUND_RX.format(n=len(OTHER_DRUGS), **fmt)}) "
            + keep.replace("days", "start_days")
        )
    )
    dx = (
        PLANTED_DX_ROWS
        + " UNION ALL "
        + _background_dx_rows(f"SELECT * FROM ({BACKGROUND_DX.format(n=len(OTHER_CODES), **fmt)}) {keep}")
    )
    if night == 2:
        labs += " UNION ALL " + _lab_rows(NEW_LABS.format(count=int(patients * 30 * DROP_SHARE), **fmt))
        rx += " UNION ALL " + _background_rx_rows(
            NEW_RX.format(count=int(patients * 5 * DROP_SHARE), n=len(OTHER_DRUGS), **fmt)
        )
        dx += " UNION ALL " + _background_dx_rows(
            NEW_DX.format(count=int(patients * 5 * DROP_SHARE), n=len(OTHER_CODES), **fmt)
        )
    return {
        "patients": "SELECT patient_id, strftime(birth_date, '%Y-%m-%d') AS birth_date, sex FROM pt "
        "ORDER BY i",
        "labs": f"SELECT * FROM ({labs}) ORDER BY patient_id, collected_at",
        "prescriptions": f"SELECT * FROM ({rx}) ORDER BY 1, 5",
        "diagnoses": f"SELECT * FROM ({dx}) ORDER BY 1, 4",
    }


def _write(con, folder: Path, queries: dict[str, str]) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for table, query in queries.items():
        path = folder / f"{table}.csv"
        if table in HEADERS:  # name the columns: UNION ALL keeps the first branch's names
            query = f"SELECT * FROM ({query}) t({HEADERS[table]})"
        rows[table] = con.execute(f"COPY ({query}) TO '{path}' (HEADER)").fetchall()[0][0]
    return rows


def expected_flags(con, mix: dict[str, tuple[float, bool, str | None]], column: str) -> dict[str, str | None]:
    """{patient_id: priority} of the patients whose planted scenario is a flagging one."""
    flagging = {name: priority for name, (_, flagged, priority) in mix.items() if flagged}
    if not flagging:
        return {}
    found = con.execute(
        f"SELECT patient_id, {column} FROM pt WHERE list_contains($names, {column}) ORDER BY i",
        {"names": list(flagging)},
    ).fetchall()
    return {patient: flagging[scenario] for patient, scenario in found}


def generate(
    folder: Path,
    patients: int,
    seed: int = 1,
    night2: Path | None = None,
    diuretic_mix: dict | None = None,
    cirrhosis_mix: dict | None = None,
) -> Clinic:
    """Write the export to `folder` (and a 99%-overlapping second night to `night2`), with the truth."""
    import duckdb

    started = time.perf_counter()
    d_mix, c_mix = diuretic_mix or DIURETIC, cirrhosis_mix if cirrhosis_mix is not None else CIRRHOSIS
    with duckdb.connect() as con:
        _setup(con, patients, seed, d_mix, c_mix)
        rows = _write(con, folder, _queries(patients, 1))
        if night2 is not None:
            _write(con, night2, _queries(patients, 2))
        expected = {
            "diuretic_electrolyte_monitoring": expected_flags(con, d_mix, "d_scn"),
            "cramps_cirrhosis": expected_flags(con, c_mix, "c_scn"),
        }
    return Clinic(folder, night2, rows, expected, time.perf_counter() - started)


def write_expected(clinic: Clinic, folder: Path) -> list[Path]:
    """expected_<check>.csv (patient_id, priority) for each core check, sorted by patient."""
    paths = []
    for check_id, flags in clinic.expected.items():
        path = folder / f"expected_{check_id}.csv"
        lines = ["patient_id,priority"] + [f"{p},{flags[p] or ''}" for p in sorted(flags)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    """Write a synthetic export (and optionally its second night) plus the expected flags."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder for the export files")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--night2", type=Path, help="also write a second night's export here")
    args = parser.parse_args()
    clinic = generate(args.out, args.patients, args.seed, args.night2)
    write_expected(clinic, args.out.parent)
    counts = ", ".join(f"{table} {n:,}" for table, n in clinic.rows.items())
    flags = ", ".join(f"{c} {len(f):,}" for c, f in clinic.expected.items())
    print(f"wrote {args.out} in {clinic.seconds:.1f} s: {counts}; expected flags: {flags}")


if __name__ == "__main__":
    main()
