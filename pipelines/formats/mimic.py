"""MIMIC-IV v2.x, hosp module: `.csv` or `.csv.gz` files (read compressed as they are), in the
export folder or its `hosp/` subfolder, or `core/`, where MIMIC-IV v0.4 and v1.0 keep patients and
admissions (v2.0 moved them into hosp/).

Column sets are those of the MIMIC-IV documentation (mimic.mit.edu/docs/iv/modules/hosp/: patients,
admissions, labevents, d_labitems, prescriptions, diagnoses_icd) and the MIT-LCP/mimic-code concepts
(mimic-iv/concepts/measurement/chemistry.sql names the d_labitems rows used for chemistry).

Mapping choices, each forced by the format:
- Patients: MIMIC gives no birth date, only `anchor_age` at `anchor_year`; the birth date is taken
  as 1 January of anchor_year - anchor_age (off by up to a year; age-based checks inherit that).
- Labs: d_labitems has no LOINC, so a test is named by its label and fluid: a Blood label as it is
  ('Potassium', 'Potassium, Whole Blood'), a Urine label as 'urine <label>' (a trailing ', Urine'
  dropped), any other fluid as '<fluid> <label>', which no codelist names. lab_tests.csv lists the
  MIMIC labels. The result is valuenum, else `value` when it is a number or a censored number
  ('<0.1', '>2000': valuenum is empty for these; the comparator is kept), else the number that
  `comments` (an optional column) holds: a comment that is itself a number or censored number
  ('>60', '<0.01.'), or the MDRD eGFR sentences of itemid 50920 'Estimated GFR (MDRD equation)',
  whose value is '___' and whose comment reads "Using this patient's age, gender, and serum
  creatinine value of 1.1,.  Estimated GFR = 66 if non African-American (mL/min/1.73 m2).
  Estimated GFR = >75 if African-American ..." (the non-African-American estimate is read: the
  estimate without the race coefficient, and the lower of the two) or, in later years, "...
  estimated GFR (eGFR) is likely >75 mL/min/1.73 m2, ..." ('>75'). Any other text ('HEMOLYZED',
  '___', 'NEG.', a comment with prose around a number) is a result without a numeric value, not
  an error. Comment shapes read from MIMIC-IV labevents rows as quoted in public material; the
  wording of other items' comments was not surveyed, so no other sentence is parsed.
- Death: `patients.dod` (optional column; date-shifted like every date; empty while not known dead),
  or the subject's earliest `admissions.deathtime` (optional column) when dod is empty or later:
  MIMIC-IV v0.4 and v1.0 left dod empty (mimic-code #955: use the earliest deathtime), and some v3.1
  dods fall days after the in-hospital deathtime. That patient row loads with a note (row_notes).
- Prescriptions: `drug` (free text) is the drug name, with the form a local `route` (optional
  column) says: an eye, ear or topical route adds ' (ophthalmic)', ' (otic)' or ' (topical)' (ROUTE_FORM);
  NDC is not used (no NDC-to-RxNorm crosswalk
  ships with the tool, and MIMIC writes '0' for unknown), so drugs are recognised by name. An
  inpatient order ends: at its stoptime, else (no stoptime) at its admission's dischtime. A stoptime
  before the starttime, by minutes or by days, is unusable: the order ends at the discharge, or on
  its start day when the admission has no discharge after the start, and the row is loaded with a
  note (row_notes), as is an order with neither stoptime nor discharge (ended on its start day).
- Lookups: d_labitems (itemid) and admissions (hadm_id) give one row per key (the smallest label
  and fluid; the earliest admittime, then dischtime), so a repeated key never multiplies results,
  orders or diagnoses; the run warns about it.
- Diagnoses: icd_version 9/10 give ICD-9-CM/ICD-10-CM; codes come without dots. A diagnosis is dated
  by its admission's admittime (diagnoses_icd has no date of its own).
- Dates are shifted into 2100-2300 for de-identification, so the plausible-date ceiling is 2300-01-01
  and an audit needs an --as-of inside the shifted range.
"""

from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

from pipelines.contract import CONTRACT_BY_TABLE
from pipelines.csv_tables import field_of, files_in, one_file, open_regular, unnamed_gzip
from pipelines.errors import READ_ERRORS, InputError, file_fault
from pipelines.ingest import LookupKey, RawSource

NAME = "mimic"
MAX_DATE = date(2300, 1, 1)
SPECS = CONTRACT_BY_TABLE

# The MIMIC columns each file must have (others are ignored).
COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("subject_id", "gender", "anchor_age", "anchor_year"),
    "admissions": ("hadm_id", "admittime", "dischtime"),
    "labevents": ("subject_id", "itemid", "charttime", "value", "valuenum", "valueuom"),
    "d_labitems": ("itemid", "label", "fluid"),
    "prescriptions": ("subject_id", "hadm_id", "starttime", "stoptime", "drug"),
    "diagnoses_icd": ("subject_id", "hadm_id", "icd_code", "icd_version"),
}

# Every file is read as the CSV MIMIC-IV ships (comma, double quotes, a header), each column as text
# under its header name, without sniffing: a sniffer reading a damaged file guesses another dialect
# and the columns go missing. A table's main file keeps its structural faults in rejects_<table>
# (quarantined with their line); a lookup file with one stops the run (exit 3, the file named).
READ = (
    "read_csv({0}, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "columns = {0}_columns, strict_mode = true)"
)
MAIN = READ[:-1] + ", store_rejects = true, rejects_table = 'rejects_{1}', rejects_scan = 'reject_scans_{1}')"

# One row per key of a lookup file, chosen by a stated order (see the module docstring).
ONE_LABITEM = f"""(SELECT * FROM {READ.format("$d_labitems")}
    QUALIFY row_number() OVER (PARTITION BY trim(itemid) ORDER BY label, fluid) = 1)"""  # noqa: S608
ONE_ADMISSION = f"""(SELECT trim(hadm_id) AS hadm_id, admittime, dischtime FROM {READ.format("$admissions")}
    QUALIFY row_number() OVER (PARTITION BY trim(hadm_id) ORDER BY admittime, dischtime) = 1)"""  # noqa: S608

# Each subject's earliest in-hospital death (admissions.deathtime; the earliest, as MIMIC's maintainers
# advise: an organ donor can have a later admission); none when admissions lacks either column. And a
# deathtime written as a date that cannot be read (`unread`, its text; 'NULL' or '\N' is no time at
# all): with no dod and no other deathtime it is the patient's death date, which the rules reject, so
# the patient is left out as one whose death cannot be known. Passed over, the patient loaded alive
# and was audited.
DEATHS = f"""(SELECT subject_id, min(read)::DATE AS died,
           min(written) FILTER (regexp_matches(written, '^[0-9]{{4}}-') AND read IS NULL) AS unread
    FROM (SELECT trim(subject_id) AS subject_id, trim(deathtime) AS written,
                 try_cast(trim(deathtime) AS TIMESTAMP) AS read
          FROM {READ.format("$admissions")})
    GROUP BY ALL)"""  # noqa: S608
NO_DEATHS = f"""(SELECT NULL::VARCHAR AS subject_id, NULL::DATE AS died, NULL::VARCHAR AS unread
    FROM {READ.format("$admissions")} WHERE false)"""  # noqa: S608 - admissions is bound: read nothing

# The death date: dod, unless admissions.deathtime says the patient died earlier or dod is empty (see
# the module docstring); `{dod}` is the column, or NULL. A dod that is not a date is left for the rules.
DEATH_FROM_DEATHTIME = """d.died IS NOT NULL
           AND (nullif(trim({dod}), '') IS NULL OR d.died < try_cast(trim({dod}) AS TIMESTAMP)::DATE)"""

PATIENTS = f"""
SELECT p.subject_id AS patient_id,
       CAST(try_cast(p.anchor_year AS INTEGER) - try_cast(p.anchor_age AS INTEGER) AS VARCHAR) || '-01-01'
           AS birth_date,
       p.gender AS sex,
       CASE WHEN {DEATH_FROM_DEATHTIME} THEN CAST(d.died AS VARCHAR)
            WHEN d.died IS NULL AND nullif(trim({{dod}}), '') IS NULL THEN coalesce(d.unread, {{dod}})
            ELSE {{dod}} END AS death_date,
       NULL::VARCHAR AS deceased,
       NULL::VARCHAR AS site_id, NULL::VARCHAR AS clinician_id,  -- MIMIC is one hospital
       NULL::VARCHAR AS registered_until, NULL::VARCHAR AS registered,  -- admissions, not registrations
       CASE WHEN {DEATH_FROM_DEATHTIME} THEN 'death_from_deathtime' END AS _note
FROM {MAIN.format("$patients", "patients")} p
LEFT JOIN {{deaths}} d ON d.subject_id = trim(p.subject_id)
"""  # noqa: S608 - constant fragments, values bound

# The number a labevents comment holds (see the module docstring), else NULL. `{comments}` is the
# column, or NULL when the file has none.
COMMENT_RESULT = r"""CASE
           WHEN result_number(rtrim(trim({comments}), '.')) IS NOT NULL THEN rtrim(trim({comments}), '.')
           ELSE nullif(coalesce(
               nullif(regexp_extract({comments},
                   '(?i)estimated GFR = ((?:[<>]=?)?\s*[0-9]+(\.[0-9]+)?) if non[ -]African', 1), ''),
               regexp_extract({comments},
                   '(?i)estimated GFR \(eGFR\) is likely ((?:[<>]=?)?\s*[0-9]+(\.[0-9]+)?)', 1)), '')
       END"""

# The unit MIMIC-IV's laboratory reports an itemid in, for a result whose valueuom is empty: the
# shared rule reads an empty unit as the canonical (SI) one, which for these US-unit chemistries turns
# a magnesium of 1.5 mg/dL (0.62 mmol/L, low) into 1.5 mmol/L (high) and a creatinine of 1.2 mg/dL
# into an implausible 1.2 umol/L. Empty units occur on numeric rows (a MIMIC-III study of itemid
# 50912 found 20 creatinine rows without one, all 0.4-1.9; mimic-code #1922: itemid 50889 "sometimes
# NA sometimes mg/L"). The units are those mimic-code's concepts read valuenum in (chemistry.sql:
# 50862 albumin g/dL, 50893 calcium, 50912 creatinine and 50931 glucose mg/dL; bg.sql: 50809, the
# blood gas glucose, mg/dL) and magnesium (50960, mg/dL, the BIDMC report's unit). Potassium and
# sodium are reported in mEq/L, the canonical mmol/L already. The row is loaded with a note
# (unit_from_itemid).
UNIT_BY_ITEMID = {
    "50862": "g/dL",
    "50893": "mg/dL",
    "50912": "mg/dL",
    "50931": "mg/dL",
    "50809": "mg/dL",
    "50960": "mg/dL",
}
ITEMID_UNIT = (
    "CASE trim(l.itemid) "
    + " ".join(f"WHEN '{item}' THEN '{unit}'" for item, unit in UNIT_BY_ITEMID.items())
    + " END"
)
LABS = f"""
SELECT l.subject_id AS patient_id, l.charttime AS collected_at, NULL::VARCHAR AS loinc_code,
       {{labevent_id}} AS result_id,  -- one result, when the file has the column
       CASE WHEN d.itemid IS NULL  -- kept, named by its itemid (codelists --unmatched lists it)
                THEN 'itemid ' || nullif(trim(l.itemid), '') || ' (not in d_labitems)'
           WHEN lower(trim(d.fluid)) = 'blood' THEN trim(d.label)
           WHEN lower(trim(d.fluid)) = 'urine'
                THEN 'urine ' || regexp_replace(lower(trim(d.label)), ',?\\s*urine$', '')
           ELSE lower(coalesce(trim(d.fluid), 'unknown fluid')) || ' ' || trim(d.label)
       END AS test_name,
       coalesce(
           -- a censored value ('<3.0') keeps its comparator even where valuenum holds the bound
           CASE WHEN result_comparator(l.value) IS NOT NULL AND result_number(l.value) IS NOT NULL
                THEN trim(l.value) END,
           nullif(trim(l.valuenum), ''),
           CASE WHEN result_number(l.value) IS NOT NULL THEN trim(l.value) END,  -- 140, '<0.1'
           -- 'GREATER THAN 60' / 'LESS THAN 0.1', as some MIMIC values are written
           CASE WHEN regexp_full_match(upper(trim(l.value)), '(GREATER|LESS) THAN\\s*[0-9.]+')
                THEN CASE WHEN upper(trim(l.value)) LIKE 'GREATER%' THEN '>' ELSE '<' END
                     || regexp_extract(trim(l.value), '([0-9.]+)$', 1) END,
           {COMMENT_RESULT}
       ) AS value,
       coalesce(nullif(trim(l.valueuom), ''), {ITEMID_UNIT}) AS unit,
       CASE WHEN nullif(trim(l.valueuom), '') IS NULL AND {ITEMID_UNIT} IS NOT NULL
            THEN 'unit_from_itemid' END AS _note
FROM {MAIN.format("$labevents", "labs")} l
LEFT JOIN {ONE_LABITEM} d ON trim(d.itemid) = trim(l.itemid)
"""  # noqa: S608 - constant fragments, values bound

# A local route, as the drug name's form: MIMIC writes 'Ketorolac 0.5% Ophth Soln' on route 'BOTH
# EYES', and the name alone does not say eye drops to every check (is_topical reads the form in the
# name: checks/codelists/dose_forms_topical.csv). Eyes and ears, and 'TP' (topical); never the
# systemic routes a name could hide (PR, NU: ketorolac nasal spray is systemic, TD: a fentanyl patch).
ROUTE_FORM = """CASE upper(trim({route}))
           WHEN 'BOTH EYES' THEN ' (ophthalmic)' WHEN 'LEFT EYE' THEN ' (ophthalmic)'
           WHEN 'RIGHT EYE' THEN ' (ophthalmic)' WHEN 'OU' THEN ' (ophthalmic)'
           WHEN 'OS' THEN ' (ophthalmic)' WHEN 'OD' THEN ' (ophthalmic)'
           WHEN 'BOTH EARS' THEN ' (otic)' WHEN 'LEFT EAR' THEN ' (otic)' WHEN 'RIGHT EAR' THEN ' (otic)'
           WHEN 'TP' THEN ' (topical)' ELSE '' END"""

# An order's end (module docstring): its stoptime when usable, else its admission's discharge, else
# its start. `_note` names what was repaired (NOTES); a stoptime that is not a date at all is left
# for the shared rules to reject.
PRESCRIPTIONS = f"""
WITH orders AS (
    SELECT p.*, try_cast(trim(p.starttime) AS TIMESTAMP) AS start_ts,
           try_cast(trim(p.stoptime) AS TIMESTAMP) AS stop_ts,
           try_cast(trim(a.dischtime) AS TIMESTAMP) AS disch_ts, a.dischtime AS disch
    FROM {MAIN.format("$prescriptions", "prescriptions")} p
    LEFT JOIN {ONE_ADMISSION} a ON a.hadm_id = trim(p.hadm_id)
),
ended AS (
    SELECT *, CASE WHEN disch_ts >= start_ts THEN disch ELSE starttime END AS fallback,
           CASE WHEN stop_ts < start_ts THEN 'stop_before_start'
                WHEN nullif(trim(stoptime), '') IS NULL AND start_ts IS NOT NULL
                     AND (disch_ts IS NULL OR disch_ts < start_ts) THEN 'no_stop_no_discharge'
           END AS _note
    FROM orders
)
SELECT subject_id AS patient_id, drug || {{route_form}} AS drug_name, NULL::VARCHAR AS rxnorm_code,
       NULL::VARCHAR AS atc_code, starttime AS start_date,
       CASE WHEN stop_ts < start_ts OR nullif(trim(stoptime), '') IS NULL THEN fallback
            ELSE stoptime END AS end_date,
       NULL::VARCHAR AS days_supply, NULL::VARCHAR AS stopped, _note,
       -- no name: MIMIC-IV is released whole, never re-sent with a prescription restated (and a
       -- pharmacy_id may stand for several rows of one order)
       NULL::VARCHAR AS prescription_id
FROM ended
"""  # noqa: S608 - constant fragments, values bound
NOTES: dict[str, dict[str, tuple[str, str]]] = {
    "labs": {
        "unit_from_itemid": (
            "unit",
            "valueuom is empty; the unit MIMIC-IV reports this itemid in is used (UNIT_BY_ITEMID)",
        ),
    },
    "patients": {
        "death_from_deathtime": (
            "death_date",
            "dod is empty or later than an admission's deathtime; the death date is the earliest deathtime",
        ),
    },
    "prescriptions": {
        "stop_before_start": (
            "end_date",
            "stoptime is before starttime; the order ends at its admission's discharge "
            "(on its start day when there is none)",
        ),
        "no_stop_no_discharge": (
            "end_date",
            "no stoptime and no discharge after the start for its admission; the order ends on its start day",
        ),
    },
}

DIAGNOSES = f"""
SELECT d.subject_id AS patient_id, d.icd_code AS code,
       CASE trim(d.icd_version) WHEN '9' THEN 'ICD-9-CM' WHEN '10' THEN 'ICD-10-CM'
            ELSE d.icd_version END AS code_system,
       a.admittime AS recorded_at, NULL::VARCHAR AS resolved_at,
       NULL::VARCHAR AS diagnosis_id  -- diagnoses_icd names no row
FROM {MAIN.format("$diagnoses_icd", "diagnoses")} d
LEFT JOIN {ONE_ADMISSION} a ON a.hadm_id = trim(d.hadm_id)
"""  # noqa: S608 - constant fragments, values bound

# Lookup files and the key each must hold once (joined files: a repeated key would multiply rows).
LOOKUP_KEYS = {"d_labitems": "itemid", "admissions": "hadm_id"}

# Contract table -> (its query, the MIMIC files it reads, whether those files are required).
TABLES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "patients": (PATIENTS, ("patients", "admissions"), False),
    "labs": (LABS, ("labevents", "d_labitems"), True),
    "prescriptions": (PRESCRIPTIONS, ("prescriptions", "admissions"), True),
    "diagnoses": (DIAGNOSES, ("diagnoses_icd", "admissions"), True),
}


def _files(export_dir: Path) -> dict[str, Path]:
    """MIMIC table name -> its file (`name.csv` or `name.csv.gz`, any case), here or in `hosp/` or
    `core/` (v0.4 and v1.0); a table with two such files (labevents.csv beside labevents.csv.gz, or
    one in hosp/ and one in the export folder) is an InputError (one_file)."""
    chosen = {table: one_file(paths, export_dir / table) for table, paths in _candidates(export_dir).items()}
    return {table: path for table, path in chosen.items() if path is not None}


def _candidates(export_dir: Path) -> dict[str, list[Path]]:
    """MIMIC table name -> the files that could be it, in the folder, its hosp/ and its core/."""
    candidates: dict[str, list[Path]] = {}
    for folder in (export_dir / "core", export_dir / "hosp", export_dir):
        if not folder.is_dir():
            continue
        for path in files_in(folder):
            name = path.name.lower()
            for suffix in (".csv.gz", ".csv"):
                if name.endswith(suffix) and name[: -len(suffix)] in COLUMNS:
                    candidates.setdefault(name[: -len(suffix)], []).append(path)
                    break
    return candidates


def detect(export_dir: Path) -> bool:
    """A folder (or its hosp/) with labevents and d_labitems, or diagnoses_icd, is MIMIC-IV."""
    names = set(_candidates(export_dir))  # a Synthea patients.csv beside its .gz is no MIMIC error
    return {"labevents", "d_labitems"} <= names or "diagnoses_icd" in names


def _undecodable(path: Path) -> str:
    """Why a file's header is no UTF-8 text: gzip data under a plain name (unnamed_gzip), or else."""
    try:
        with open_regular(path) as handle:
            packed = unnamed_gzip(path, handle.read(2))
    except READ_ERRORS:
        packed = None
    return packed or "cannot be read as UTF-8 CSV (gzip when named .gz)"


def read_header(path: Path, table: str) -> tuple[str, ...]:
    """Check the file's header has the MIMIC columns this profile reads; return its column names
    in order (a repeated name made unique with its position)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise InputError(f"{path}: {_undecodable(path)}") from None
    except READ_ERRORS as error:
        raise InputError(f"{path}: cannot be read ({file_fault(error)})") from None
    if not header:
        raise InputError(f"{path}: file is empty; expected a header row ({', '.join(COLUMNS[table])})")
    names = [name.strip().lower() for name in header]  # MIMIC's are lower case; a re-export's may not be
    for column in COLUMNS[table]:
        if column not in names:
            raise InputError(f"{path}: required column '{column}' is missing from the header")
    return tuple(n if names.index(n) == i else f"{n}_{i}" for i, n in enumerate(names))


def sources(export_dir: Path) -> list[RawSource]:
    """One joined source per contract table; every required file and column checked first."""
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: export folder not found")
    files = _files(export_dir)
    result = []
    for table, (select, names, required) in TABLES.items():
        missing = [n for n in names if n not in files]
        if missing and (required or names[0] not in missing):  # patients' own file alone is optional
            raise InputError(
                f"{export_dir}: required MIMIC-IV file {missing[0]}.csv.gz (or .csv) is missing "
                "(looked for in the folder, its hosp/ and its core/)"
            )
        if missing:
            continue
        headers = {name: read_header(files[name], name) for name in names}
        if table == "patients":  # dod is optional (an older extract may lack it), as is deathtime
            dod = "p.dod" if "dod" in headers["patients"] else "NULL::VARCHAR"
            died = {"subject_id", "deathtime"} <= set(headers["admissions"])
            select = select.format(dod=dod, deaths=DEATHS if died else NO_DEATHS)
        if table == "prescriptions":  # route is optional too
            route = ROUTE_FORM.format(route="route") if "route" in headers["prescriptions"] else "''"
            select = select.format(route_form=route)
        if table == "labs":  # comments is optional (a trimmed extract may lack it)
            present = headers["labevents"]
            select = select.format(
                comments="l.comments" if "comments" in present else "NULL",
                labevent_id="nullif(trim(l.labevent_id), '')" if "labevent_id" in present else "NULL",
            )
        result.append(_source(table, select, {n: files[n] for n in names}, headers))
    return result


def _params(name: str, path: Path, header: tuple[str, ...]) -> dict[str, object]:
    """What READ binds for one file: its path, and each header column read as text."""
    return {name: str(path), f"{name}_columns": {column: "VARCHAR" for column in header}}


def _source(
    table: str, select: str, paths: dict[str, Path], headers: dict[str, tuple[str, ...]]
) -> RawSource:
    spec = SPECS[table]
    main = next(iter(paths))  # the table's own file; the others are lookups
    return RawSource(
        spec=spec,
        label=paths[next(iter(paths))].name,
        paths=tuple(paths.values()),
        select=select,
        params={k: v for name, path in paths.items() for k, v in _params(name, path, headers[name]).items()},
        order=spec.columns,
        lines=False,
        max_date=MAX_DATE,
        notes=NOTES.get(table, {}),
        csv_param=main,  # mended when DuckDB would misread it (pipelines/csv_scan.py)
        delimiter=",",  # READ's, whatever the header holds
        patient_of=field_of(headers[main].index("subject_id"), len(headers[main])),  # required in each
        lookups=tuple(
            LookupKey(
                paths[name].name, key, READ.format(f"${name}"), _params(name, paths[name], headers[name])
            )
            for name, key in LOOKUP_KEYS.items()
            if name in paths
        ),
    )
