"""Synthea CSV export (v2 and v3 column sets): patients, observations, medications, conditions.

Columns follow the Synthea wiki "CSV File Data Dictionary" (github.com/synthetichealth/synthea/wiki/
CSV-File-Data-Dictionary): observations carry LOINC codes and a TYPE of `numeric` or `text` (v3 adds
CATEGORY), medications RxNorm codes with a DESCRIPTION, conditions SNOMED-CT codes (v3.3 adds SYSTEM).
Dates are ISO 8601 (`YYYY-MM-DD`, or `yyyy-MM-dd'T'HH:mm:ss'Z'` for observations and medications).
A patient's DEATHDATE (empty while alive) is the death date. The site and clinician are those of the
patient's latest encounter in encounters.csv (ORGANIZATION, PROVIDER) when that file is present.
Each table is one file read in order, so quarantined rows keep their line numbers.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import duckdb

from pipelines.contract import CONTRACT_BY_TABLE, TableContract
from pipelines.csv_tables import CsvFile, find_file, find_optional, open_csv, plain_or_gz
from pipelines.db import REFERENCE_DIR, open_duckdb
from pipelines.ingest import RawSource

NAME = "synthea"

SPECS = CONTRACT_BY_TABLE

# observations.csv holds vital signs, surveys, social history and quality-of-life indices beside the
# labs: those rows are skipped (counted with this reason), not rejected. v3 names the CATEGORY
# (laboratory, vital-signs, survey, social-history, exam, imaging, procedure, therapy); v2 has none,
# and even in v3 the QALY, DALY and QOLS rows the QualityOfLife module writes have an empty one, so
# without a category a code that is not LOINC-shaped is what marks a row as no lab.
SKIP_NOT_LAB = """CASE
    WHEN nullif(trim({category}), '') IS NOT NULL THEN
        CASE WHEN lower(trim({category})) <> 'laboratory'
             THEN 'not a laboratory observation (' || lower(trim({category})) || ')' END
    WHEN upper(trim({code})) IN ('QALY', 'DALY', 'QOLS')
        THEN 'not a laboratory observation (quality-of-life index)'
    WHEN list_position($nonlab_codes, trim({code})) IS NOT NULL  -- v2: the category its code has
        THEN 'not a laboratory observation ('
             || $nonlab_categories[list_position($nonlab_codes, trim({code}))] || ')'
    WHEN NOT regexp_full_match(trim({code}), '[0-9]{{1,7}}-[0-9]')
        THEN 'not a laboratory observation (code is not LOINC)'
END"""

# A medication with no STOP whose DISPENSES could not have lasted to today ("lapsed"): Synthea leaves
# STOP empty for a medication its module never ended, and counts its dispenses as the prescription's
# refills when it names some (a fixed number, however long the row stays open), else one per
# duration or per month up to the end of the simulation (CSVExporter.medication). A chronic drug
# filled monthly since 1977 has 559 dispenses and runs; an alteplase injection of 1990 (1 dispense),
# a sprain's hydrocodone of 2014 (3) or a clonazepam of 1984 with 6 refills was not taken in 2026.
# Lapsed when even one fill a year would not reach the export's end ((DISPENSES + 1) x 365 days from
# START before the latest START or STOP in medications.csv, $export_end: the simulation ran at least
# that far, and a drug dispensed yearly or more often to its end never lapses). Never the day of the
# run: the same export read on another day, or for a past as-of date, reads the same. It then ends
# after its fills at a month each (Synthea's interval with no prescription details), its stop not
# said. Without a DISPENSES column, a count that is no whole number, or an export end that cannot be
# read, a row is read as before.
DISPENSED = "try_cast(trim({dispenses}) AS BIGINT)"
STARTED = "try_cast(left(trim({start}), 10) AS DATE)"
LAPSED = f"""(nullif(trim({{stop}}), '') IS NULL AND {DISPENSED} BETWEEN 1 AND 100000
              AND {STARTED} + CAST(({DISPENSED} + 1) * 365 AS INTEGER) < CAST($export_end AS DATE))"""
LAPSED_END = f"strftime({STARTED} + CAST({DISPENSED} * 30 AS INTEGER), '%Y-%m-%d')"

# Contract table -> (Synthea file, required columns, mandatory file, contract column -> SQL over the file).
# A text observation (TYPE other than numeric: smoking status, survey answers) has no numeric result.
TABLES: dict[str, tuple[str, tuple[str, ...], bool, dict[str, str]]] = {
    "patients": (
        "patients.csv",
        ("id", "birthdate", "gender"),
        False,
        {
            "patient_id": "id",
            "birth_date": "birthdate",
            "sex": "gender",
            "death_date": "deathdate",  # empty while alive
            "deceased": "NULL",  # Synthea writes no flag: a DEATHDATE is the death
            # ORGANIZATION and PROVIDER are columns of encounters.csv, not of patients.csv: taken from
            # the latest encounter when the file is there (_with_encounters), else none
            "site_id": "NULL",
            "clinician_id": "NULL",
            "registered_until": "NULL",  # Synthea records no registration
            "registered": "NULL",
        },
    ),
    "labs": (
        "observations.csv",
        ("date", "patient", "code", "description", "value"),
        True,
        {
            "patient_id": "patient",
            "collected_at": "date",
            "loinc_code": "code",
            "test_name": "description",
            "value": "CASE WHEN lower(trim({type})) = 'text' THEN NULL ELSE {value} END",
            "unit": "{units}",
            "result_id": "NULL",  # observations.csv names no result: each row is its own
            "_skip": SKIP_NOT_LAB,
        },
    ),
    "prescriptions": (
        "medications.csv",
        ("start", "patient", "code", "description"),
        True,
        {
            "patient_id": "patient",
            "drug_name": "description",
            "rxnorm_code": "code",
            "atc_code": "NULL",
            "start_date": "start",
            "end_date": f"CASE WHEN {LAPSED} THEN {LAPSED_END} ELSE {{stop}} END",
            "days_supply": "NULL",  # DISPENSES counts fills, not days
            # STOP is the day the simulated patient stopped taking the drug (a course's end, or a
            # medication ended when its care plan or condition ended): a stop, with no refill gap
            # after it (no supply left over to be taken late: Synthea dispenses no days). No STOP is
            # Synthea saying the drug is still taken (its exporter leaves STOP empty only for a
            # medication active at the end of the simulation): not stopped, so no check assumes a
            # length for it (course_end); unless its dispenses lapsed (LAPSED): ended, stop not said
            "stopped": f"""CASE WHEN {LAPSED} THEN NULL WHEN nullif(trim({{stop}}), '') IS NULL THEN 'no'
                               ELSE 'yes' END""",
            "prescription_id": "NULL",  # medications.csv names no prescription: patient, drug, start
        },
    ),
    "diagnoses": (
        "conditions.csv",
        ("start", "patient", "code"),
        True,
        {
            "patient_id": "patient",
            "code": "code",
            # v2 has no SYSTEM column: every code is SNOMED-CT. v3.3 names the system (SNOMED-CT, or a
            # system URI); other spellings go through code_system_name and are quarantined if unknown.
            "code_system": """CASE WHEN nullif(trim({system}), '') IS NULL THEN 'SNOMED-CT'
                                   WHEN {system} ILIKE '%snomed%' THEN 'SNOMED-CT'
                                   WHEN {system} ILIKE '%icd-10%' OR {system} ILIKE '%icd10%' THEN 'ICD-10-CM'
                                   ELSE {system} END""",
            "recorded_at": "start",
            "resolved_at": "{stop}",
            "diagnosis_id": "NULL",  # conditions.csv names no condition: patient, code, start
        },
    ),
}
OPTIONAL = ("type", "units", "stop", "system", "deathdate", "category", "dispenses")


def detect(export_dir: Path) -> bool:
    """A folder with observations.csv, medications.csv or conditions.csv (any case, plain or .gz) is
    a Synthea export."""
    names = {p.name.lower().removesuffix(".gz") for p in export_dir.iterdir() if p.is_file()}
    return bool(names & {"observations.csv", "medications.csv", "conditions.csv"})


def sources(export_dir: Path) -> list[RawSource]:
    """One ordered CSV source per file present; each header checked for its required columns first.
    patients.csv joins encounters.csv for its site and clinician when that file is present. Each
    file may be gzip-compressed (`patients.csv.gz`), as an export is often shipped, and is read so."""
    found = []
    encounters = find_optional(export_dir, plain_or_gz("encounters.csv"))
    for table, (file, required, mandatory, mapping) in TABLES.items():
        find = find_file if mandatory else find_optional
        path = find(export_dir, plain_or_gz(file))
        if path is None:
            continue
        source = _source(SPECS[table], path, required, mapping)
        found.append(_with_encounters(source, encounters) if table == "patients" and encounters else source)
    return found


# encounters.csv (Synthea v2 and v3: Id, START, STOP, PATIENT, ORGANIZATION, PROVIDER, PAYER, ...)
ENCOUNTERS_REQUIRED = ("patient", "start")


def _with_encounters(source: RawSource, path: Path) -> RawSource:
    """patients.csv with site_id and clinician_id from each patient's latest encounter (by START, then
    Id: one row per patient, so no patient is repeated). Two files are joined, so the join's order
    is not the file's: a quarantined patients row is shown by its fields, not its line."""
    file = open_csv(path).require(*ENCOUNTERS_REQUIRED)
    patient, start, enc_id = file.column("patient"), file.column("start"), file.column("id")
    # One struct per encounter, so both come from the same (latest) one: max_by skips NULL values,
    # and taken one by one an empty PROVIDER on the latest encounter would give an older one's,
    # a clinician of another organization.
    pair = ", ".join(f"'{c}': nullif(trim({file.column(c)}), '')" for c in ("organization", "provider"))
    latest = f"max_by({{{pair}}}, {start} || '|' || coalesce({enc_id}, '')) AS _enc"
    picked = {"site_id": "_e._enc.organization", "clinician_id": "_e._enc.provider"}
    columns = ", ".join(f"{picked.get(c, '_p.' + c)} AS {c}" for c in source.spec.columns)
    select = (
        f"SELECT {columns} FROM ({source.select}) AS _p LEFT JOIN ("  # noqa: S608 - header names, quoted
        f"SELECT {patient} AS _enc_patient, {latest} "
        f"FROM {file.reader('encounters', 'rejects_lookup_patients_encounters')} "
        f"WHERE nullif(trim({patient}), '') IS NOT NULL GROUP BY {patient}) AS _e "
        "ON _e._enc_patient = _p.patient_id"
    )
    return replace(
        source,
        paths=(*source.paths, path),
        select=select,
        params={**source.params, **file.params("encounters")},
        lines=False,
        csv_param="path",
    )


def _source(spec: TableContract, path: Path, required: tuple[str, ...], mapping: dict[str, str]) -> RawSource:
    """The file's columns renamed to the contract's, every value text, read in file order."""
    file = open_csv(path).require(*required)
    named = {c: file.column(c) for c in {*required, *OPTIONAL}}
    if spec.table == "labs" and file.delimiter == ";":  # a spreadsheet's save: '4,1' is 4.1, as generic
        named["value"] = f"decimal_comma({named['value']})"
    skips = "_skip" in mapping
    columns = (*spec.columns, "_skip") if skips else spec.columns
    aliases = ", ".join(f"CAST({_sql(mapping[c], named)} AS VARCHAR) AS {c}" for c in columns)
    return RawSource(
        spec=spec,
        label=path.name,
        paths=(path,),
        select=f"SELECT {aliases} FROM {file.reader('path', f'rejects_{spec.table}')}",  # noqa: S608
        params=file.params("path")
        | (_nonlab_params() if skips else {})
        | ({"export_end": _export_end(file)} if spec.table == "prescriptions" else {}),
        order=spec.columns,
        lines=True,
        reject_columns={file.columns[e]: c for c, e in mapping.items() if e in file.columns},
        skips=skips,
        delimiter=file.delimiter,
        patient_of=file.field_reader(mapping["patient_id"]),
    )


def _export_end(file: CsvFile) -> str | None:
    """The latest day medications.csv names (a START or a STOP): the simulation ran at least that far
    (LAPSED). Read by a DuckDB of its own before the run's, as the file's rows are read in order by a
    plain projection that must not aggregate. None when the file cannot be read so (a cp1252 file, a
    broken line): the rule is then off, and the run's own read reports the fault."""
    start, stop = file.column("start"), file.column("stop")
    day = "try_cast(left(trim({}), 10) AS DATE)"
    query = (
        f"SELECT max(greatest({day.format(start)}, {day.format(stop)})) "  # noqa: S608 - header names
        f"FROM {file.reader('path', 'rejects_export_end')}"
    )
    try:
        with open_duckdb(":memory:") as con:
            row = con.execute(query, file.params("path")).fetchone()
    except duckdb.Error:
        return None
    return row[0].isoformat() if row and row[0] is not None else None


def _nonlab_params() -> dict[str, list[str]]:
    """The LOINC codes of observations that are not labs, and their category
    (pipelines/reference/observation_categories.csv: the FHIR R4 vital signs, and the codes Synthea
    writes under CATEGORY vital-signs, survey, social-history or procedure), for v2 exports, which
    have no CATEGORY column."""
    with (REFERENCE_DIR / "observation_categories.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["category"] != "laboratory"]
    return {"nonlab_codes": [r["code"] for r in rows], "nonlab_categories": [r["category"] for r in rows]}


def _sql(expression: str, named: dict[str, str]) -> str:
    """A mapping expression with its column names quoted as the header writes them."""
    if expression in named:
        return named[expression]
    return expression.format(**named)
