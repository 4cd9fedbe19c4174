"""OMOP CDM v5.4 as CSV files (one per table, upper- or lower-case names, comma or tab separated,
or semicolon-separated with decimal commas: DECIMALS).

Codes come from the standard concepts (`concept.vocabulary_id` LOINC, RxNorm, SNOMED, ICD10CM/ICD10/ICD9CM),
falling back on the source concepts (`*_source_concept_id`: an ETL that mapped a local code only
there, its standard concept 0), then the source values; a drug's RxNorm code is its single RxNorm
ingredient when `concept_ancestor` is present, else the RxNorm drug concept's own code, and its name
the concept's name rather than a local code. A condition whose concepts are in none of the audited
code systems (both concept ids 0, as every CDM has some, or another vocabulary such as Read) can match
no codelist: it is skipped with its reason (summary.json `skip_reasons`), not rejected.
Patient ids are `person_id`. A death comes from the optional `death` table (the earliest `death_date`
of a person's rows, so a person with several never counts twice), else from `person.death_datetime`
(CDM v6.0).
A field that is exactly `\\N` (PostgreSQL's COPY) or `NULL` (SQL Server Management Studio) is empty
in every column (NULLS); one that is exactly `NA` (R's write.csv, readr::write_csv) is empty in the
columns where NA is no value, every column read but measurement_source_value (NA is sodium's symbol)
and the concept table's name, code, vocabulary and class (NA_IS_TEXT).
Table and column names follow the OHDSI CDM v5.4 specification (ohdsi.github.io/CommonDataModel/cdm54.html).
A CDM held in a DuckDB database file (the folder's one `*.duckdb` file, as OHDSI Eunomia ships) is
read in place, read-only, through DuckDB's `read_duckdb`, every column cast to text like a CSV's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.contract import CONTRACT_BY_TABLE, TableContract
from pipelines.csv_tables import CsvFile, find_file, find_optional, open_csv
from pipelines.db import open_duckdb
from pipelines.errors import InputError
from pipelines.ingest import LookupKey, RawSource

NAME = "omop"

SPECS = CONTRACT_BY_TABLE
# A table's file, plain or gzip-compressed as a CDM is often shipped (`MEASUREMENT.csv.gz`).
EXTENSIONS = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
# A field reading exactly `\N` is empty: PostgreSQL's COPY (text format, and CSV when so asked)
# writes NULL so, and OMOP CDMs live in PostgreSQL; read as text, a `\N` date would be rejected and
# a `\N` value_as_number would hide value_source_value. No value of the CDM is ever `\N` itself.
# SQL Server Management Studio's "Save Results As" CSV writes NULL as the text `NULL` likewise.
NULLS = ("\\N", "NULL")
# Whole-number columns an export may write as floats: pandas (a column with an empty cell becomes
# float), R and spreadsheets write concept id 4172704 as '4172704.0', so a text join to `concept`
# misses it ('8507.0' is no gender, '3003.0' no ICD-10-CM source concept, '365.0' no days supply).
# Every *_concept_id, and these, are read as the integer such a text stands for.
WHOLE_NUMBERS = (
    "person_id",
    "year_of_birth",
    "month_of_birth",
    "day_of_birth",
    "days_supply",
    "care_site_id",
    "provider_id",
)
# A plain integer (nearly every value) skips the regular expression: a few substring tests cost half
# as much, and that is paid per id column per row of the largest tables. RE2's \s is these five.
_PLAIN = " AND ".join(
    f"NOT contains({{column}}, {c})" for c in ("'.'", "' '", "chr(9)", "chr(10)", "chr(12)", "chr(13)")
)
WHOLE = (
    f"CASE WHEN {_PLAIN} THEN {{column}} "
    r"ELSE regexp_replace({column}, '^\s*(-?[0-9]+)(\.0*)?\s*$', '\1') END"
)
# A semicolon-separated table (R's write.csv2, a spreadsheet in a decimal-comma locale: most of the
# European OHDSI network) writes a decimal point as a comma: value_as_number '4,1' is 4.1, as the
# generic and Synthea profiles read such a file (macro decimal_comma); so are the numbers of
# value_source_value and a whole number written as a float ('365,0', read then as 365).
DECIMALS = ("value_as_number", "value_source_value")

# Table -> the columns this profile reads (the CDM marks them required, or they carry the codes).
COLUMNS = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "measurement": ("person_id", "measurement_concept_id", "measurement_date", "value_as_number"),
    "drug_exposure": ("person_id", "drug_concept_id", "drug_exposure_start_date"),
    "condition_occurrence": ("person_id", "condition_concept_id", "condition_start_date"),
    "concept": ("concept_id", "concept_name", "vocabulary_id", "concept_class_id", "concept_code"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "death": ("person_id", "death_date"),
}
# Optional columns, read when present, else NULL.
OPTIONAL = {
    "person": (
        "birth_datetime",
        "month_of_birth",
        "day_of_birth",
        "gender_source_value",
        "death_datetime",  # CDM v6.0 moved death onto person; v5.x has the death table
        "care_site_id",  # the site (practice, clinic) the person is registered with
        "provider_id",  # their primary care provider
    ),
    "measurement": (
        "measurement_datetime",
        "unit_concept_id",
        "unit_source_value",
        "measurement_source_value",
        "measurement_source_concept_id",  # a local lab code's LOINC concept, when the standard one is 0
        "operator_concept_id",
        "value_source_value",
    ),
    "drug_exposure": (
        "drug_exposure_end_date",
        "days_supply",
        "drug_source_value",
        "drug_source_concept_id",  # a local drug code's RxNorm (or NDC) concept, when the standard one is 0
        "verbatim_end_date",  # the end the source recorded (a real stop), beside the ETL's derived one
        "drug_type_concept_id",  # an administration record ends on its day (ADMINISTRATIONS)
        "stop_reason",  # why the drug was stopped: the course ended in a stop (no refill gap)
    ),
    "condition_occurrence": ("condition_end_date", "condition_source_value", "condition_source_concept_id"),
}

# R (write.csv, readr::write_csv, data.table::fwrite), the language of the OHDSI tools, writes a
# missing value as `NA`: read as text, an NA condition_end_date is no date (rejected), an NA
# stop_reason a stop, an NA care_site_id one site 'NA' for every person. A field that is exactly NA
# is empty in every column this profile reads (dates and datetimes, numbers, ids, concept ids,
# stop_reason, the source values) but the free text where NA is a value: measurement_source_value
# (sodium's symbol, as a local lab code) and the concept table's name, code, vocabulary and class (a
# concept_code may be NA). So NA is decided per column, not a null marker of the file as NULLS are.
NA_IS_TEXT = ("measurement_source_value", "concept_name", "concept_code", "vocabulary_id", "concept_class_id")
NA_EMPTY = frozenset(c for read in (*COLUMNS.values(), *OPTIONAL.values()) for c in read) - set(NA_IS_TEXT)

# Contract table -> the CDM table its rows come from (joined to `concept` for codes and names).
TABLES = {
    "patients": "person",
    "labs": "measurement",
    "prescriptions": "drug_exposure",
    "diagnoses": "condition_occurrence",
}

# One row per concept_id: a concept table with a repeated concept_id (a bad vocabulary load, two
# vocabulary files concatenated) would otherwise multiply every fact joined to it. The row kept is
# the smallest by (concept_code, vocabulary_id, concept_name, concept_class_id), and the run warns.
ONE_CONCEPT = """
    SELECT concept_id, concept_name, vocabulary_id, concept_class_id, concept_code FROM {concept}
    QUALIFY row_number() OVER (
        PARTITION BY concept_id ORDER BY concept_code, vocabulary_id, concept_name, concept_class_id
    ) = 1
"""

SKIP_UNMAPPED = "condition with no concept (concept_id 0, or not in concept)"

# A drug_exposure that ends on its start day with no days supply and no verbatim end, where an
# earlier exposure of the same drug ran up to that day, is a renewal whose end the ETL did not know:
# Synthea-derived CDMs (the Eunomia sample: 57 rows) write a medication still taken (no stop) so, as
# the last of a chain of yearly renewals. The same drug is the same drug_concept_id; two with concept
# 0 (unmapped) are the same only by drug_source_value, else drug_source_concept_id, or a one-off
# local ibuprofen would renew a year of local amlodipine. Read as an end, a long-term user would
# stop on the day of their last renewal; the renewal is read as lasting as long as the course it
# renews (`renewals` in the prescriptions select), and noted. Not an administration record (THEMIS:
# it ends on its day): 32818 EHR administration, 38000180 inpatient administration, 38000179 and
# 581373 physician administered. A one-off exposure with no end stays one day (the rule in the select).
ADMINISTRATIONS = "'32818', '38000180', '38000179', '581373'"
NOTES = {
    "prescriptions": {
        "renewal_length": (
            "days_supply",
            "ends on its start day with no days supply or verbatim end, after an earlier exposure of "
            "the drug ran up to that day: a renewal, read as lasting as long as that course",
        ),
    },
}
EMPTY_ANCESTOR = "(SELECT NULL::VARCHAR AS ancestor_concept_id, NULL::VARCHAR AS descendant_concept_id)"
EMPTY_DEATH = "(SELECT NULL::VARCHAR AS person_id, NULL::VARCHAR AS death_date)"

SELECTS = {
    "patients": """
        WITH death AS (  -- one row per person however many death rows: the earliest date
            SELECT trim(person_id) AS person_id,
                   coalesce(arg_min(trim(death_date), export_date(death_date)),
                            min(nullif(trim(death_date), ''))) AS death_date
            FROM {death} GROUP BY 1
        )
        SELECT p.person_id AS patient_id,
               coalesce(  -- else year-month-day, a missing month or day taken as 1
                   nullif(trim({birth_datetime}), ''),
                   p.year_of_birth
                   || '-' || lpad(coalesce(nullif(trim({month_of_birth}), ''), '1'), 2, '0')
                   || '-' || lpad(coalesce(nullif(trim({day_of_birth}), ''), '1'), 2, '0')
               ) AS birth_date,
               CASE trim(p.gender_concept_id) WHEN '8507' THEN 'M' WHEN '8532' THEN 'F'
                    ELSE {gender_source_value} END AS sex,
               coalesce(d.death_date, nullif(trim({death_datetime}), '')) AS death_date,
               NULL::VARCHAR AS deceased,  -- the CDM records deaths only, never "alive"
               nullif(trim({care_site_id}), '') AS site_id,
               nullif(trim({provider_id}), '') AS clinician_id,
               -- observation_period ends where the data ends, not where a registration did: no
               -- registration is read from the CDM
               NULL::VARCHAR AS registered_until, NULL::VARCHAR AS registered
        FROM {main} p
        LEFT JOIN death d ON d.person_id = trim(p.person_id)
    """,
    "labs": """
        WITH concept AS ({one_concept})
        SELECT m.person_id AS patient_id,
               coalesce(nullif(trim({measurement_datetime}), ''), m.measurement_date) AS collected_at,
               -- one result by what the source recorded: its time and its test as the source names
               -- it (measurement_source_value, else measurement_source_concept_id, else the standard
               -- concept), so a later export's row with a corrected value replaces it whatever
               -- measurement_id an ETL gives it (an ETL numbering its rows renumbers them at each
               -- rebuild, and the id of one result then names another); results sharing those (two
               -- draws of one test on a day, in a CDM that records dates only) are versions of one,
               -- both current while both are sent
               'source | ' || coalesce(strftime(export_timestamp(collected_at), '%Y-%m-%d %H:%M:%S'), '')
                   || ' | '
                   || coalesce(nullif(trim({measurement_source_value}), ''),
                               'source concept '
                                   || nullif(nullif(trim({measurement_source_concept_id}), ''), '0'),
                               'concept ' || nullif(nullif(trim(m.measurement_concept_id), ''), '0'))
                   AS result_id,
               -- the standard concept's LOINC code, else the source concept's (an ETL that mapped a
               -- local lab code to LOINC only there), else a source value written as a LOINC code
               CASE WHEN c.vocabulary_id = 'LOINC' THEN c.concept_code
                    WHEN s.vocabulary_id = 'LOINC' THEN s.concept_code
                    WHEN regexp_full_match(trim({measurement_source_value}), '[0-9]{{1,7}}-[0-9]')
                    THEN trim({measurement_source_value}) END AS loinc_code,
               coalesce(c.concept_name, s.concept_name, {measurement_source_value}) AS test_name,
               -- a censored result: operator_concept_id '<' 4171756, '<=' 4171754, '>=' 4171755,
               -- '>' 4172704 ('=' 4172703 and 0 are plain), else the same number written with a
               -- comparator in value_source_value; no value_as_number: value_source_value when it
               -- reads as a number or a censored number ('<0.5'), else no numeric value
               CASE WHEN nullif(trim(m.value_as_number), '') IS NOT NULL
                    THEN coalesce(
                        CASE trim({operator_concept_id}) WHEN '4171756' THEN '<' WHEN '4171754' THEN '<='
                             WHEN '4171755' THEN '>=' WHEN '4172704' THEN '>' END,
                        CASE WHEN result_number({value_source_value}) = try_cast(m.value_as_number AS DOUBLE)
                             THEN result_comparator({value_source_value}) END,
                        '') || trim(m.value_as_number)
                    WHEN result_number({value_source_value}) IS NOT NULL THEN trim({value_source_value})
               END AS value,
               -- the unit concept's code, unless only the source value is a unit the tool knows (a
               -- CDM whose unit concept is mapped to a UCUM code not in the unit map)
               coalesce(known_unit(u.concept_code), known_unit({unit_source_value}), u.concept_code,
                        {unit_source_value}) AS unit
        FROM {main} m
        LEFT JOIN concept c ON c.concept_id = m.measurement_concept_id AND c.concept_id <> '0'
        LEFT JOIN concept s ON s.concept_id = {measurement_source_concept_id} AND s.concept_id <> '0'
        LEFT JOIN concept u ON u.concept_id = {unit_concept_id} AND u.concept_id <> '0'
    """,
    "prescriptions": """
        WITH concept AS ({one_concept}),
        typed AS (
            SELECT d.*, export_date(d.drug_exposure_start_date) AS _start,
                   export_date({drug_exposure_end_date}) AS _derived_end,
                   export_date({verbatim_end_date}) AS _verbatim,
                   try_cast(nullif(trim({days_supply}), '0') AS INTEGER) AS _supply
            FROM {main} d
        ),
        dated AS (  -- _stop: a verbatim end (the end the source recorded) before the end the ETL
            -- derived (THEMIS: the end should be the verbatim one), else before the supply's last
            -- day, else the only end there is; after the start (an ETL copying the start date into
            -- it says nothing); _end: the course's end, the stop if any. A supply past 9999 days
            -- is the row's fault (the rules allow 3650): added to a date it overflowed the query
            SELECT d.*, coalesce(d._stop, d._derived_end) AS _end
            FROM (SELECT t.*,
                         CASE WHEN t._verbatim > t._start
                                   AND t._verbatim < coalesce(
                                       t._derived_end,
                                       t._start + CASE WHEN t._supply BETWEEN 1 AND 9999
                                                       THEN t._supply - 1 END,
                                       DATE '9999-12-31')
                              THEN t._verbatim END AS _stop
                  FROM typed t) d
        ),
        drugs AS (  -- which drug an exposure is: its concept; one with none (concept 0, as every
            -- CDM's local pharmacy codes have) is the drug its source names, and is no drug known
            -- when its source names none (NULL: renews nothing and is renewed by nothing)
            SELECT d.*, CASE WHEN coalesce(trim(d.drug_concept_id), '0') NOT IN ('0', '')
                             THEN 'concept ' || trim(d.drug_concept_id)
                             WHEN nullif(trim({drug_source_value}), '') IS NOT NULL
                             THEN 'source value ' || trim({drug_source_value})
                             WHEN coalesce(trim({drug_source_concept_id}), '0') NOT IN ('0', '')
                             THEN 'source concept ' || trim({drug_source_concept_id}) END AS _drug
            FROM dated d
        ),
        exposures AS (  -- the latest earlier exposure of the same drug: its end and its length;
            -- of two ending on one day, the one started last (a yearly renewal beside a record
            -- of the whole 25 years, as Eunomia's persons 7 and 20 have) is the course renewed
            SELECT d.*, max(d._end) OVER earlier AS _prior_end,
                   arg_max(d._end - d._start, (d._end, d._start)) OVER earlier AS _prior_days
            FROM drugs d
            WINDOW earlier AS (
                PARTITION BY trim(d.person_id), d._drug
                ORDER BY date_diff('day', DATE '1970-01-01', d._start)
                RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ),
        renewals AS (
            SELECT d.*,
                   CASE WHEN (nullif(trim({drug_exposure_end_date}), '') IS NULL OR d._end = d._start)
                             AND coalesce(nullif(trim({days_supply}), ''), '0') = '0'
                             AND nullif(trim({verbatim_end_date}), '') IS NULL
                             AND coalesce(trim({drug_type_concept_id}), '') NOT IN ({administrations})
                             AND d._drug IS NOT NULL AND d._prior_end >= d._start - 1 AND d._prior_days > 0
                        THEN d._prior_days END AS _renewed_days
            FROM exposures d
        ),
        ingredient AS (  -- a drug's RxNorm ingredient, when it has exactly one
            SELECT a.descendant_concept_id AS concept_id, min(i.concept_code) AS code
            FROM {ancestor} a JOIN concept i ON i.concept_id = a.ancestor_concept_id
            WHERE i.concept_class_id = 'Ingredient' AND i.vocabulary_id = 'RxNorm'
            GROUP BY ALL HAVING count(DISTINCT i.concept_code) = 1
        )
        SELECT d.person_id AS patient_id,
               -- a concept's name says more than a local code ('RX-000123'): the RxNorm one's, else
               -- any concept's (an NDC source concept), else the source value as written
               coalesce(r.concept_name, c.concept_name, s.concept_name, {drug_source_value}) AS drug_name,
               coalesce(i.code, CASE WHEN r.vocabulary_id = 'RxNorm' THEN r.concept_code END) AS rxnorm_code,
               NULL::VARCHAR AS atc_code,
               d.drug_exposure_start_date AS start_date,
               -- no end date and no days supply (CDM v5.2 and older let the end be empty; 0 is the
               -- CDM's unknown): one day, as OHDSI's drug era builder counts it, not an open end;
               -- empty or blank text is no value, as the rules read it (a CDM staged as text)
               CASE WHEN d._renewed_days IS NOT NULL THEN NULL  -- its days supply ends it
                    -- the end the source recorded, before the one the ETL derived from the supply
                    -- (THEMIS: the end date should be the verbatim one when there is one): a stop
                    WHEN d._stop IS NOT NULL THEN strftime(d._stop, '%Y-%m-%d')
                    WHEN nullif(trim({drug_exposure_end_date}), '') IS NULL
                         AND coalesce(nullif(trim({days_supply}), ''), '0') = '0'
                    THEN d.drug_exposure_start_date ELSE {drug_exposure_end_date} END AS end_date,
               coalesce(CAST(d._renewed_days AS VARCHAR),
                        nullif(trim({days_supply}), '0')) AS days_supply,  -- 0 is the CDM's "unknown"
               -- a stop_reason says the course ended in a stop ('Adverse reaction', 'Regimen
               -- completed'); else not said: an end before the supply's last day is read as a stop
               -- (OMOP's convention: end = start + days_supply - 1 when the supply runs out)
               CASE WHEN nullif(trim({stop_reason}), '') IS NOT NULL THEN 'true' END AS stopped,
               CASE WHEN d._renewed_days IS NOT NULL THEN 'renewal_length' END AS _note,
               -- one prescription by what the source recorded: its start and its drug as the source
               -- names it (drug_source_value, else drug_source_concept_id, as `drugs` above), whatever
               -- concept a vocabulary release maps it to (a later export's row recoded, or given its
               -- stop, replaces this one), record type or id an ETL gives it (an ETL numbering its
               -- rows renumbers them at each rebuild); none when the source names no drug (the
               -- content key, as before: patient, drug, codes, start)
               'source | ' || coalesce(strftime(d._start, '%Y-%m-%d'), '') || ' | '
                   || coalesce(nullif(trim({drug_source_value}), ''),
                               'concept ' || nullif(nullif(trim({drug_source_concept_id}), ''), '0'))
                   AS prescription_id
        FROM renewals d
        LEFT JOIN concept c ON c.concept_id = d.drug_concept_id AND c.concept_id <> '0'
        LEFT JOIN concept s ON s.concept_id = {drug_source_concept_id} AND s.concept_id <> '0'
        -- the drug's RxNorm (or RxNorm Extension) concept: the standard one, else the source one
        LEFT JOIN concept r ON r.concept_id = CASE
            WHEN c.vocabulary_id IN ('RxNorm', 'RxNorm Extension') THEN c.concept_id
            WHEN s.vocabulary_id IN ('RxNorm', 'RxNorm Extension') THEN s.concept_id END
        LEFT JOIN ingredient i ON i.concept_id = coalesce(r.concept_id, d.drug_concept_id)
    """,
    "diagnoses": """
        WITH concept AS ({one_concept}),
        coded AS (  -- the standard concept when it is in a contract code system, else the source concept
            SELECT o.*, CASE WHEN c.vocabulary_id IN ('SNOMED', 'ICD10CM', 'ICD10', 'ICD9CM')
                             THEN c.concept_id ELSE {condition_source_concept_id} END AS code_concept_id,
                   c.vocabulary_id AS standard_vocabulary
            FROM {main} o LEFT JOIN concept c ON c.concept_id = o.condition_concept_id AND c.concept_id <> '0'
        )
        SELECT o.person_id AS patient_id,
               coalesce(c.concept_code, {condition_source_value}) AS code,
               CASE c.vocabulary_id WHEN 'SNOMED' THEN 'SNOMED-CT' WHEN 'ICD10CM' THEN 'ICD-10-CM'
                    WHEN 'ICD10' THEN 'ICD-10-WHO' WHEN 'ICD9CM' THEN 'ICD-9-CM'
                    ELSE c.vocabulary_id END AS code_system,
               o.condition_start_date AS recorded_at,
               {condition_end_date} AS resolved_at,
               -- one condition by what the source recorded: its start and its code as the source
               -- names it (condition_source_value, else condition_source_concept_id), whatever
               -- standard concept a vocabulary release maps it to (a later export's row recoded, or
               -- given its end, replaces this one) or condition_occurrence_id an ETL gives it (an
               -- ETL numbering its rows renumbers them at each rebuild); none when the source names
               -- no code (the content key: patient, code, system, start)
               'source | ' || coalesce(strftime(export_date(recorded_at), '%Y-%m-%d'), '') || ' | '
                   || coalesce(nullif(trim({condition_source_value}), ''),
                               'concept ' || nullif(nullif(trim({condition_source_concept_id}), ''), '0'))
                   AS diagnosis_id,
               -- a condition in none of the audited code systems can match no codelist: left out of
               -- the audit, counted per reason (every CDM has unmapped source codes), not rejected
               CASE WHEN c.vocabulary_id IN ('SNOMED', 'ICD10CM', 'ICD10', 'ICD9CM') THEN NULL
                    WHEN coalesce(c.vocabulary_id, o.standard_vocabulary) IS NULL
                    THEN '{SKIP_UNMAPPED}'
                    ELSE 'condition concept in a vocabulary not audited ('
                         || coalesce(c.vocabulary_id, o.standard_vocabulary) || ')'
               END AS _skip
        FROM coded o
        LEFT JOIN concept c ON c.concept_id = o.code_concept_id AND c.concept_id <> '0'
    """,
}


@dataclass(frozen=True)
class DuckTable:
    """One CDM table in a DuckDB database file, read like a CSV: columns by name, values as text."""

    path: Path
    table: str
    schema: str
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name quarantined rows and run results give as their file."""
        return f"{self.path.name}:{self.table}"

    @property
    def columns(self) -> dict[str, str]:
        """Column names by lower case."""
        return {n.lower(): n for n in self.names}

    def require(self, *required: str) -> DuckTable:
        """This table, or an InputError naming it and the first required column it lacks."""
        for column in required:
            if column.lower() not in self.columns:
                raise InputError(f"{self.label}: required column '{column}' is missing")
        return self

    def column(self, name: str, alias: str = "") -> str:
        """The column as a quoted SQL identifier (prefixed by a table alias), or NULL when absent."""
        real = self.columns.get(name.lower())
        return f'{alias}"{real}"' if real else "NULL::VARCHAR"

    def reader(self, param: str, rejects: str) -> str:
        """The table with every column cast to text (typed values have no structural faults to reject)."""
        return (
            f"(SELECT COLUMNS(*)::VARCHAR FROM read_duckdb(${param}, schema_name = ${param}_schema, "  # noqa: S608
            f"table_name = ${param}_table))"
        )

    def params(self, param: str) -> dict[str, object]:
        """The values `reader(param)` binds."""
        return {param: str(self.path), f"{param}_schema": self.schema, f"{param}_table": self.table}


def detect(export_dir: Path) -> bool:
    """A folder with measurement, drug_exposure or condition_occurrence tables (any case) is OMOP:
    as CSV files, or in the folder's one DuckDB database file."""
    names = [p.name.lower() for p in export_dir.iterdir() if p.is_file()]
    stems = {name.removesuffix(ext) for name in names for ext in EXTENSIONS if name.endswith(ext)}
    if stems & {"measurement", "drug_exposure", "condition_occurrence"}:
        return True
    databases = sorted(export_dir.glob("*.duckdb"))
    return len(databases) == 1 and bool(set(_catalog(databases[0])) & set(TABLES.values()))


def _catalog(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The database's tables by lower-case name: (schema, column names); empty if it cannot be read."""
    try:
        con = open_duckdb(path, read_only=True)  # extension downloads off: a SQLite file fetches one
    except duckdb.Error:  # not a DuckDB file, a newer storage version, or locked by a writer
        return {}
    with con:
        rows = con.execute(
            """
            SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position)
            FROM information_schema.columns WHERE table_catalog = current_database()
            GROUP BY table_schema, table_name ORDER BY table_schema <> 'main', table_schema, table_name
            """
        ).fetchall()
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for schema, table, columns in rows:
        found.setdefault(table.lower(), (schema, tuple(columns)))  # the main schema first
    return found


def _files(table: str) -> tuple[str, ...]:
    """The names a table's file may have: .csv, .tsv or .txt, each maybe .gz (matched in any case)."""
    return tuple(table + ext for ext in EXTENSIONS)


Table = CsvFile | DuckTable


def _tables(export_dir: Path) -> tuple[dict[str, Table], Table | None]:
    """The CDM tables this profile reads, and concept_ancestor when present: CSV files, else the
    folder's one database file."""
    names = (*TABLES.values(), "concept")
    databases = sorted(export_dir.glob("*.duckdb"))
    if len(databases) != 1 or any(find_optional(export_dir, _files(t)) for t in TABLES.values()):
        ancestor = find_optional(export_dir, _files("concept_ancestor"))
        found: dict[str, Table] = {t: _open(find_file(export_dir, _files(t)), t == "concept") for t in names}
        return found, _open(ancestor, vocabulary=True) if ancestor else None
    catalog = _catalog(databases[0])
    if not catalog:
        raise InputError(f"{databases[0]}: not a readable DuckDB database")
    for table in names:
        if table not in catalog:
            raise InputError(f"{databases[0]}: required table '{table}' is missing")
    tables = {
        t: DuckTable(databases[0], t, *catalog[t]) for t in (*names, "concept_ancestor") if t in catalog
    }
    return {t: tables[t] for t in names}, tables.get("concept_ancestor")


def sources(export_dir: Path) -> list[RawSource]:
    """One joined source per contract table; every table and required column checked first."""
    tables, ancestor = _tables(export_dir)
    for name, table in tables.items():
        table.require(*COLUMNS[name])
    if ancestor is not None:
        ancestor.require(*COLUMNS["concept_ancestor"])
    death = _death(export_dir, tables["person"])
    if death is not None:
        death.require(*COLUMNS["death"])
    return [
        _source(SPECS[contract], table, tables[table], tables["concept"], ancestor, death)
        for contract, table in TABLES.items()
    ]


def _death(export_dir: Path, person: Table) -> Table | None:
    """The optional `death` table beside `person`: a CSV file, or a table of the same database file."""
    if isinstance(person, DuckTable):
        found = _catalog(person.path).get("death")
        return DuckTable(person.path, "death", *found) if found else None
    path = find_optional(export_dir, _files("death"))
    return _open(path) if path else None


def _open(path: Path, vocabulary: bool = False) -> CsvFile:
    """A CDM table's or a vocabulary's CSV. A tab-separated vocabulary file (concept,
    concept_ancestor) quotes nothing, as Athena ships it and OHDSI's loaders read it: a concept name
    such as '"edoxaban' read as a quoted field ran to the end of the file and took every concept
    after it. A CDM table's file is read quoted, as the record scan that numbers its lines reads it."""
    return open_csv(path, NULLS, tabs_unquoted=vocabulary)


def _values(table: Table, relation: str) -> str:
    """The relation with its fields read as values: a field that is exactly NA empty where NA is no
    value (NA_EMPTY); in a semicolon-separated file a decimal comma read as a point (DECIMALS and the
    whole numbers); then each whole-number column (WHOLE_NUMBERS, every *_concept_id) written as its
    integer: '4172704.0' and ' 4172704 ' read as '4172704', any other text left as it is."""
    names = list(table.names)
    relation = _replace(relation, [n for n in names if n.lower() in NA_EMPTY], "nullif({column}, 'NA')")
    if isinstance(table, CsvFile) and table.delimiter == ";":
        decimals = [n for n in names if n.lower() in DECIMALS or _whole_number(n)]
        relation = _replace(relation, decimals, "decimal_comma({column})")
    return _replace(relation, [n for n in names if _whole_number(n)], WHOLE)


def _whole_number(name: str) -> bool:
    """Whether the column holds whole numbers: WHOLE_NUMBERS and every *_concept_id."""
    return name.lower() in WHOLE_NUMBERS or name.lower().endswith("concept_id")


def _replace(relation: str, names: list[str], expression: str) -> str:
    """The relation with each named column replaced by `expression` (a template of `{column}`)."""
    if not names:
        return relation
    quoted = ['"' + n.replace('"', '""') + '"' for n in names]
    replaced = ", ".join(f"{expression.format(column=q)} AS {q}" for q in quoted)
    return f"(SELECT * REPLACE ({replaced}) FROM {relation})"  # noqa: S608 - header names, quoted


def _source(
    spec: TableContract,
    table: str,
    main: Table,
    concept: Table,
    ancestor: Table | None,
    death: Table | None = None,
) -> RawSource:
    """The contract table's SELECT over the CDM table and the concept lookups it needs."""
    t = spec.table
    alias = {"patients": "p.", "labs": "m.", "prescriptions": "d.", "diagnoses": "o."}[t]
    template = SELECTS[t]
    params = main.params("main")
    read = [main.path]  # every file the source reads: a change to any of them is a changed source
    lookups = {"one_concept": "SELECT NULL", "ancestor": EMPTY_ANCESTOR, "death": EMPTY_DEATH}
    keys: tuple[LookupKey, ...] = ()
    if "{one_concept}" in template:
        lookups["one_concept"] = ONE_CONCEPT.format(
            concept=_values(concept, concept.reader("concept", f"rejects_lookup_{t}_concept"))
        )
        params |= concept.params("concept")
        read.append(concept.path)
        reader = _values(concept, concept.reader("concept", "rejects_lookup_keys_concept"))
        keys = (LookupKey(concept.label, "concept_id", reader, concept.params("concept")),)
    if "{ancestor}" in template and ancestor is not None:
        lookups["ancestor"] = _values(ancestor, ancestor.reader("ancestor", f"rejects_lookup_{t}_ancestor"))
        params |= ancestor.params("ancestor")
        read.append(ancestor.path)
    if "{death}" in template and death is not None:
        lookups["death"] = _values(death, death.reader("death", f"rejects_lookup_{t}_death"))
        params |= death.params("death")
        read.append(death.path)
    select = template.format(
        main=_values(main, main.reader("main", f"rejects_{t}")),
        SKIP_UNMAPPED=SKIP_UNMAPPED,
        **lookups,
        administrations=ADMINISTRATIONS,
        **{c: main.column(c, alias) for c in OPTIONAL[table]},
    )
    return RawSource(
        spec=spec,
        label=main.label,
        paths=tuple(dict.fromkeys(read)),  # a database file counts once
        select=select,
        params=params,
        order=spec.columns,
        lines=False,
        lookups=keys,
        skips=t == "diagnoses",  # the only table whose select yields `_skip`
        notes=NOTES.get(t, {}),  # the tables whose select yields `_note`
        csv_param="main" if isinstance(main, CsvFile) else None,  # mended when DuckDB would misread it
        delimiter=main.delimiter if isinstance(main, CsvFile) else ",",
        patient_of=main.field_reader("person_id") if isinstance(main, CsvFile) else None,
    )
