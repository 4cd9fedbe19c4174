"""FHIR R4 bulk data export: NDJSON files (optionally `.ndjson.gz`), one resource type per file.

File names vary between servers ('Observation.ndjson', 'Observation.000.ndjson', '1.Observation.ndjson'),
so each file's type is read from the `resourceType` of its first resource; when that is a type this
profile does not read (a stray Group or Encounter) and the name names one it does, the name's.
Mapping (FHIR R4, hl7.org/fhir/R4 and the Bulk Data Access IG, hl7.org/fhir/uv/bulkdata):

- Patient: id, birthDate (a partial one, '1950' or '1950-03', as the period's first day), gender;
  deceasedDateTime gives the death date (its local date; a partial date, '2020' or '2020-03', as the
  period's last day, or its last update (else today) when that is sooner: certainly alive before
  it, certainly dead after it),
  deceasedBoolean true says dead with the date unknown, false says alive; active false (the record
  no longer in active use) says the patient left the practice, the date unknown.
- Observation (category laboratory, or no category) -> labs: the LOINC coding of `code`, else
  `code.text` (or the first coding's display) as the test name; effectiveDateTime, else
  effectivePeriod.start, effectiveInstant or issued; valueQuantity.value / unit (else code), else
  valueInteger (a count, unit-less). A censored result keeps its valueQuantity.comparator ('<', '<=',
  '>=', '>'; value 0.5 with '<' is '<0.5'); a valueString is read as a generic export's value is: a
  number, a censored number ('<0.5'), a number with an abnormal flag ('5.6 H'); text with no digit
  ('see comment') is a result without a numeric value, and other text with digits ('0,45', '5.6 mmol')
  is quarantined. The Observation's `id` is the result's `result_id`: a later export's version of it
  (status corrected or amended, a new meta.versionId) replaces the one stored, and one now
  entered-in-error or cancelled withdraws it.
  A category coded as anything but laboratory is skipped; a category with text only counts as none.
  One with no value whose results are its components gives one result per component with a value.
- MedicationRequest and MedicationStatement -> prescriptions: the drug name is
  medicationCodeableConcept.text, else its first coding's display, else its RxNorm coding's, else
  the first display a coding has; RxNorm and ATC codings. A medicationReference is read through
  the Medication the resource contains ('#med1'), else the one of that id (a version ignored) in
  the export's Medication files, else its display.
  A request runs from dispenseRequest.validityPeriod.start (else authoredOn) to its dosage's timing
  bounds (the latest step's boundsPeriod.end, or the start plus boundsDuration: steps of successive
  `sequence` numbers one after another; only when every step has bounds), else validityPeriod.end
  (or its first supply's end when later: the window is for dispensing, not the course),
  with its first dispense (initialFill.duration, else expectedSupplyDuration) and, with no end
  stated, each repeat allowed (numberOfRepeatsAllowed, of expectedSupplyDuration; ten years at
  most) as days supply (a Duration in any
  unit of time, by its UCUM code, else its display unit, case-insensitive: 'd', 'Days', 'mo',
  'months'; a month is UCUM's 30.4375 days, a year 365.25; rounded to whole days, at least one;
  one out of range, however large, is judged by the rules as that row's fault); a statement over
  its effectivePeriod (else effectiveDateTime / dateAsserted). A request or statement whose status
  says it is over (completed, stopped, on-hold: a held drug reads as stopped) ends at the earliest
  of that end (or start + supply) and its last update (meta.lastUpdated): validityPeriod is the
  window to dispense in, not the course. Completed (or unknown) with no end date and no supply duration, it
  lasts its start day: Synthea's requests carry only authoredOn, and read as ongoing every drug a
  patient was ever prescribed would be active today; its last update is no clinical date (a bulk
  load sets it on every resource). Stopped or held with neither, it ends at its last update (no refill gap
  follows); with no last update, stopped with only a validity period or supply as its end, or on
  hold, it ends at its start (the stated end is a plan). A request with
  doNotPerform true is skipped. The resource's type and `id`
  ('MedicationRequest/123') are the prescription's `prescription_id`: a later export's version of it
  (recoded, given its stop) replaces the one stored, and one now entered-in-error, cancelled or
  draft (a statement: not-taken or intended) withdraws it.
- Condition -> diagnoses: one row per coding in ICD-10-CM, WHO ICD-10, SNOMED CT or ICD-9-CM (EHRs
  code a problem in SNOMED CT and ICD-10-CM at once; each codelist sees the coding it lists), else
  one row of its first coding; onsetDateTime (else onsetPeriod.start, recordedDate). Resolved at
  abatementDateTime (else abatementPeriod); a condition whose clinicalStatus is
  resolved/inactive/remission without an abatement date counts as resolved at its last update
  (meta.lastUpdated, else recordedDate, else its onset). The Condition's `id` is the diagnosis's
  `diagnosis_id` (its codings' rows share it): a later export's version of it (recoded, resolved)
  replaces every row stored of it, and one now entered-in-error, refuted or only a differential
  withdraws it.
- Partial dates ('2015', '2015-06', allowed in R4 dateTimes): a start (onset, recordedDate, a
  prescription's start) is the period's first day; an abatement, an end, its last day (at the latest
  today; a period not yet begun, its first day, for the rules to judge). A prescription's end and a
  result's time are not completed (a partial one is quarantined).
- Subjects are references 'Patient/<id>', relative or absolute ('https://ehr.example/fhir/Patient/<id>',
  which the Bulk Data IG allows), a version ('/_history/2') ignored; anything else ('urn:uuid:<id>'), or no
  subject (R4 allows one without: a device's result), leaves patient_id empty (quarantined).
- Resources marked entered-in-error (and cancelled results, cancelled/draft orders, proposals and
  options, statements of a drug not taken or only intended, refuted conditions), and Observations
  whose category is not laboratory (vital signs, surveys, social history), are skipped: counted per
  reason (`_skip`), not loaded, not rejected.
- Site and clinician (the measures' breakdowns): Patient.managingOrganization and the first
  generalPractitioner; without one, the requester of the patient's latest MedicationRequest.

Files are read line by line (read_csv with a delimiter JSON text cannot contain) and each line parsed
with DuckDB's JSON functions, rather than with read_json: read_json stops at a malformed line or,
with ignore_errors, drops it silently. Only the lines holding a resource of the file's type are
staged; every other non-blank line (not JSON, JSON but no resource, a resource of another type, a
line longer than MAX_RECORD_BYTES, 8 MiB, as a CSV reader's over-long record) is quarantined with its
file and line (`faults`; a line past READ_LIMIT, 32 MiB, stops the file): DuckDB counts them, and
when there are any the files are read again in Python to find their lines (blank lines counted, as
an editor counts them).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import duckdb

from pipelines.contract import CONTRACT_BY_TABLE, WITHDRAWING_SKIP_PREFIXES
from pipelines.csv_scan import BLANK_BYTES, shown_text
from pipelines.csv_tables import MAX_RECORD_BYTES, files_in, open_bytes, unnamed_gzip, wide_text
from pipelines.errors import READ_ERRORS, InputError, file_fault
from pipelines.ingest import RawSource
from pipelines.rules import MAX_DAYS_SUPPLY

NAME = "fhir"
SPECS = CONTRACT_BY_TABLE
TYPES = ("Patient", "Observation", "MedicationRequest", "MedicationStatement", "Condition", "Medication")
_TYPE_BY_NAME = {t.lower(): t for t in TYPES}
log = logging.getLogger(__name__)
# Code systems by their URIs (bound as parameters). ICD-10: the US clinical modification, and WHO's
# ICD-10 with the national modifications that keep its 4-character codes (Germany's ICD-10-GM), read
# as WHO ICD-10 (code system 'ICD-10'), which also matches the codelists' ICD-10-CM categories. Each
# also by its HL7 OID (`urn:oid:...`), as FHIR converted from C-CDA or HL7 v2 often names it.
SYSTEMS = {
    "loinc": ["http://loinc.org", "urn:oid:2.16.840.1.113883.6.1"],
    "rxnorm": ["http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"],
    "atc": ["http://www.whocc.no/atc", "urn:oid:2.16.840.1.113883.6.73"],
    "icd10": ["http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"],
    "icd10who": [
        "http://hl7.org/fhir/sid/icd-10",
        "http://id.who.int/icd/release/10",
        "http://fhir.de/CodeSystem/bfarm/icd-10-gm",
        "http://fhir.de/CodeSystem/dimdi/icd-10-gm",
        "urn:oid:2.16.840.1.113883.6.3",
    ],
    # ICD-9-CM diagnoses (volumes 1 and 2), and ICD-9-CM as a whole
    "icd9": [
        "http://hl7.org/fhir/sid/icd-9-cm",
        "urn:oid:2.16.840.1.113883.6.103",
        "urn:oid:2.16.840.1.113883.6.2",
    ],
    "snomed": ["http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"],
}


# The longest line the reader takes. A line longer than MAX_RECORD_BYTES (a resource carrying a
# waveform, valueSampledData, or a Patient's photo) is quarantined by its line as a CSV reader's
# over-long record is ('record longer than 8 MiB'), the rest loaded; this limit only lets the reader
# get past it (at 16 MiB, one such line made the whole file unreadable). Not higher: DuckDB reserves
# buffers of this size for each file a query reads (at 128 MiB a run outgrew the default 1.25GB
# memory_limit). A line longer still (a whole Bundle on one line) refuses the file (exit 3).
READ_LIMIT = 32 << 20
READ_LINES = (
    "read_csv(${param}, header = false, delim = $delim, quote = '', escape = '', "
    f"columns = {{{{'line': 'VARCHAR'}}}}, auto_detect = false, max_line_size = {READ_LIMIT})"
)


# A line that is not blank, as _line_faults (Python's bytes.strip) judges it: DuckDB's trim() takes
# off spaces only, so a line of tabs counted as a fault that Python could not locate (exit 3).
STRIPPED = f"trim(line, {' || '.join(f'chr({b})' for b in BLANK_BYTES)})"
NOT_BLANK = f"{STRIPPED} <> ''"


def _is_type(resource_type: str) -> str:
    """Whether `line` is a JSON object whose resourceType is `resource_type` (one of TYPES), in a
    line no longer than MAX_RECORD_BYTES (its bytes as _line_faults counts them, stripped)."""
    return (
        f"coalesce(CASE WHEN strlen({STRIPPED}) <= {MAX_RECORD_BYTES} AND json_valid(line) "
        f"THEN (CAST(line AS JSON)->>'$.resourceType') = '{resource_type}' END, false)"
    )


def _lines(param: str, resource_type: str) -> str:
    """Every line of the files in $param holding a resource of one type, as JSON."""
    # resource_type is one of TYPES; the paths and the delimiter are bound.
    return (
        "(SELECT CASE WHEN json_valid(line) THEN line::JSON END AS j "  # noqa: S608
        f"FROM {READ_LINES.format(param=param)} WHERE {_is_type(resource_type)})"
    )


def faults_of(files: dict[str, list[Path]]) -> Callable[[duckdb.DuckDBPyConnection], list[tuple]]:
    """A source's `faults`: (line, error type, text, file) of each non-blank line of these files
    that is not a resource of the file's type."""

    def faults(con: duckdb.DuckDBPyConnection) -> list[tuple]:
        found: list[tuple] = []
        for kind, paths in files.items():
            count = con.execute(
                f"SELECT count(*) FROM {READ_LINES.format(param='paths')} "  # noqa: S608 - a constant type
                f"WHERE {NOT_BLANK} AND NOT {_is_type(kind)}",
                {"paths": [str(p) for p in paths], "delim": chr(1)},
            ).fetchall()[0][0]
            if count:
                located = [fault for path in paths for fault in _line_faults(path, kind)]
                if len(located) != count:  # Python and DuckDB read a line differently: never lose it
                    raise InputError(
                        f"{', '.join(p.name for p in paths)}: {count} lines are not {kind} resources but "
                        f"{len(located)} could be located by line; nothing was loaded"
                    )
                found += located
        return found

    return faults


# A Patient resource's own id in a line that is no valid JSON (cut short, damaged): the first "id"
# in it, in FHIR's id form, when the line says it is a Patient. In a Patient the id comes before
# any element that could have one of its own (Synthea and HAPI write resourceType, id, meta, ...).
_PATIENT_TYPE = re.compile(r'"resourceType"\s*:\s*"Patient"')
_FIRST_ID = re.compile(r'"id"\s*:\s*"([A-Za-z0-9\-.]{1,64})"')


def patient_in(text: str) -> str | None:
    """The id of the Patient in the text of a Patient file's line that is no resource (the source's
    `patient_of`); None for a resource of another type (which names no patient of its own) or a
    line where no Patient's id can be made out. A Patient that reads as JSON in its quarantined text
    is one the reader could not take as it stood (NUL bytes, which the kept text leaves out; a lone
    surrogate): its id is read from it."""
    try:
        resource = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply for Python's reader
        found = _FIRST_ID.search(text) if _PATIENT_TYPE.search(text) else None
        return found.group(1) if found else None
    if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
        found = resource.get("id")
        return found if isinstance(found, str) else None
    return None


def _line_faults(path: Path, kind: str) -> list[tuple]:
    """Each non-blank line of the file that is not a `kind` resource, by its line number."""
    found = []
    try:
        with open_bytes(path) as handle:
            for number, raw in enumerate(handle, 1):
                text = raw.strip()
                fault = _fault(text, kind, number == 1) if text else None
                if fault:
                    found.append((number, fault, shown_text(text).decode("utf-8", "replace"), path.name))
    except READ_ERRORS as error:
        raise InputError(f"{path.name}: cannot be read ({file_fault(error)})") from None
    return found


def _fault(text: bytes, kind: str, first: bool = False) -> str | None:
    """Why a line is not a `kind` resource, or None when it is one; judged as DuckDB's json_valid
    judges the line when staging: a byte-order mark only at the file's start, no lone surrogate
    (Python's json takes both), and a line nested deeper than Python's recursion limit (which
    DuckDB reads) is a fault rather than a crash. A line longer than MAX_RECORD_BYTES is one."""
    if len(text) > MAX_RECORD_BYTES:
        return "RECORD TOO LONG"
    try:
        resource = json.loads(text.decode("utf-8-sig" if first else "utf-8"))
        json.dumps(resource, ensure_ascii=False).encode("utf-8")  # a lone surrogate raises
    except (ValueError, UnicodeEncodeError):  # UnicodeDecodeError included
        return "MALFORMED JSON"
    except RecursionError:
        return "NOT A RESOURCE" if not text.startswith(b"{") else "MALFORMED JSON"
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return "NOT A RESOURCE"
    return None if resource["resourceType"] == kind else "OTHER RESOURCE TYPE"


def _coding(concept: str, system: str, field: str = "code") -> str:
    """The `field` of the first coding of CodeableConcept `concept` (a JSON expression) with one of
    the system's URIs."""
    return (
        f"list_filter(json_list({concept}->'$.coding'), "
        f"lambda c: list_contains(${system}, c->>'$.system'))[1]->>'$.{field}'"
    )


def _first_display(concept: str, prefer: str = "") -> str:
    """CodeableConcept `concept`'s text, else its first coding's display (the name read before, so a
    stored prescription keeps its name, part of its fact key), else the display of its first coding
    in system `prefer` (a drug's RxNorm coding), else the first display any coding has: an EHR may
    list a coding without one first (an NDC code beside the RxNorm coding that names the drug)."""
    codings = f"json_list({concept}->'$.coding')"
    displays = (
        f"list_filter(list_transform({codings}, lambda c: nullif(trim(c->>'$.display'), '')), "
        "lambda d: d IS NOT NULL)[1]"
    )
    preferred = f"nullif(trim({_coding(concept, prefer, 'display')}), ''), " if prefer else ""
    first = f"nullif(trim({codings}[1]->>'$.display'), '')"
    return f"coalesce(nullif(trim({concept}->>'$.text'), ''), {first}, {preferred}{displays})"


# Category codes that mean a laboratory result: FHIR's observation-category 'laboratory', and the HL7
# v2 diagnostic service sections (table 0074) some servers send instead: LAB, CH chemistry, HM
# haematology, SR serology, IMM immunology, TX toxicology, BLB blood bank, MB microbiology (compared
# in lower case). An Observation with another category (vital-signs, survey, ...) is skipped.
LAB_CATEGORIES = "['laboratory', 'lab', 'ch', 'hm', 'sr', 'imm', 'tx', 'blb', 'mb']"

# Every category code of an Observation.
CATEGORIES = """flatten(list_transform(json_list(j->'$.category'),
            lambda cat: list_transform(json_list(cat->'$.coding'), lambda c: c->>'$.code')))"""


def _status_skip(field: str) -> str:
    """The skip reason of a resource whose `field` ('status', 'verificationStatus') says it is not
    a valid record ('status cancelled', 'verification status refuted'). A resource skipped so
    withdraws the result, prescription or diagnosis its id names: the reason begins with one of
    contract.WITHDRAWING_SKIP_PREFIXES."""
    status, verification = WITHDRAWING_SKIP_PREFIXES
    if field == "status":
        return f"'{status}' || {STATUS}"
    return f"'{verification}' || {VERIFICATION}"


# A partial FHIR date: a year, or a year and month (no braces: the SQL is str.format-ted later).
YEAR = "'[0-9][0-9][0-9][0-9]'"
YEAR_MONTH = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]'"


def _first_day(value: str) -> str:
    """A FHIR date or dateTime `value` (a JSON text expression), a partial one ('2015', '2015-06') as
    the first day of the period it names, as birthDate is read: for a start (an onset, a
    prescription's start), the day from which the record can hold."""
    return (
        f"CASE WHEN regexp_full_match({value}, {YEAR}) THEN {value} || '-01-01' "
        f"WHEN regexp_full_match({value}, {YEAR_MONTH}) THEN {value} || '-01' ELSE {value} END"
    )


def _last_day(value: str, after: str = "") -> str:
    """A FHIR date or dateTime `value`, a partial one as the last day of the period it names, as
    deceasedDateTime is read: for an end, the day from which it is certainly over. A period not yet
    over ends the day after the resource's last update (`meta.lastUpdated`: it said so then; an
    instant in UTC, whose local day may be the next), else today; never before the period's first
    day, nor after today. A period that has not begun ('9999', a death in a year to come) is its
    first day, after the export date, for the rules to judge: read as today it made a death in 9999
    a death today, and the patient was audited on any earlier as-of date. `after`: a day the end is not before
    when it comes from the last update (an abatement: the day after the onset, as STATUS_RESOLVED).
    Why the last update first: the same resource in every night's export then gives the same day,
    where "today" gave a new one each night of the period (a diagnosis's resolution is part of its
    identity: a new row every night). A partial date that names no period ('2019-13') stays as it
    is, to be quarantined."""
    first = f"try_cast({_first_day(value)} AS DATE)"
    day = (
        f"CASE WHEN regexp_full_match({value}, {YEAR}) THEN try_cast({value} || '-12-31' AS DATE) "
        f"WHEN regexp_full_match({value}, {YEAR_MONTH}) THEN last_day(try_cast({value} || '-01' AS DATE)) END"
    )
    said = f"coalesce({_day(LAST_UPDATE)} + 1, current_date)"
    said = f"least(greatest({said}, {after}), current_date)" if after else f"least({said}, current_date)"
    return (
        f"CASE WHEN ({day}) IS NULL THEN {value} "
        f"ELSE strftime(greatest(least({day}, {said}), {first}), '%Y-%m-%d') END"
    )


# Days added to a date are clamped to a million (some 2,700 years: past any course, within DuckDB's
# dates): a typed 99999999999 days overflowed the date arithmetic and failed the whole file's query,
# where it is that row's fault; the rules judge the value itself (days_supply out of range).
MAX_DAYS_ADDED = 1_000_000


def _plus_days(day: str, days: str) -> str:
    """The date `day` (a DATE expression) plus `days` (a number expression), clamped (MAX_DAYS_ADDED);
    NULL when `days` is (greatest() skips a NULL: clamped alone, no days became a million days back,
    and an empty dosageInstruction list ended a request in 712 BC, which failed the file's rules)."""
    clamped = f"least(greatest({days}, -{MAX_DAYS_ADDED}), {MAX_DAYS_ADDED})"
    return f"({day} + CAST(CASE WHEN ({days}) IS NOT NULL THEN {clamped} END AS INTEGER))"


def _day(value: str) -> str:
    """The calendar day a full FHIR date or dateTime `value` names (as written, offset ignored, as the
    staging reads it); NULL for a partial or malformed one."""
    return f"try_cast(left({value}, 10) AS DATE)"


LAST_UPDATE = "(j->>'$.meta.lastUpdated')"  # when the resource was last changed
# The day of the last update (its local day), as a course's end reads it, computed once per resource
# (`updated_day`); none when it is after tomorrow, a clock's or an exporter's slip (9999-12-31): read
# as the day a drug was stopped, it kept the drug taken for ever. Tomorrow is allowed: a local day
# runs up to 14 hours ahead of UTC's.
UPDATED = f"CASE WHEN {_day(LAST_UPDATE)} <= current_date + 1 THEN {_day(LAST_UPDATE)} END"
# The subject's Patient id: the Bulk Data IG lets a server write references relative ('Patient/p1')
# or absolute, rooted in its base URL ('https://ehr.example/fhir/Patient/p1'); R4 lets one name a
# version ('Patient/p1/_history/2'). Read as 'Patient/<id>' only, an EHR's absolute references put
# every row in quarantine.
PATIENT_ID = (
    "nullif(regexp_extract(j->>'$.subject.reference', '(?:^|/)Patient/([^/]+)(?:/_history/[^/]+)?$', 1), '')"
)
STATUS = "coalesce(j->>'$.status', '')"
VERIFICATION = "coalesce(json_list(j->'$.verificationStatus.coding')[1]->>'$.code', '')"

PATIENTS = f"""
SELECT j->>'$.id' AS patient_id,
       -- a partial birthDate (R4 allows '1950' and '1950-03') is read as the period's first day, as
       -- OMOP's year_of_birth and MIMIC's anchor year are
       CASE length(j->>'$.birthDate') WHEN 4 THEN (j->>'$.birthDate') || '-01-01'
            WHEN 7 THEN (j->>'$.birthDate') || '-01' ELSE j->>'$.birthDate' END AS birth_date,
       j->>'$.gender' AS sex,
       -- a partial deceasedDateTime ('2026', '2026-03') is read as the period's last day (one not
       -- yet over: the record's last update, else today; _last_day): the patient is certainly
       -- alive before it, and certainly dead after it
       {_last_day("(j->>'$.deceasedDateTime')")} AS death_date,
       CASE WHEN (j->>'$.deceasedDateTime') IS NOT NULL THEN 'true' ELSE j->>'$.deceasedBoolean' END
           AS deceased,
       -- the registered site and the patient's own clinician, as references ('Organization/org-1',
       -- 'Practitioner/pr-9'); an identifier when the reference is logical only
       coalesce(j->>'$.managingOrganization.reference', j->>'$.managingOrganization.identifier.value')
           AS site_id,
       coalesce(j->>'$.generalPractitioner[0].reference', j->>'$.generalPractitioner[0].identifier.value')
           AS clinician_id,
       -- Patient.active false: the record is no longer in active use (a patient who left the
       -- practice), the date unknown; true or absent says nothing against registration
       NULL::VARCHAR AS registered_until,
       CASE WHEN (j->>'$.active') IN ('true', 'false') THEN j->>'$.active' END AS registered
FROM {{Patient}}
"""  # noqa: S608 - constant fragments

# The clinician when the Patient names no generalPractitioner (Synthea's bulk exports never do): the
# requester of the patient's latest MedicationRequest (by authoredOn, then id), the clinician who last
# prescribed for them, as Synthea's CSV export gives its latest encounter's provider. Requests a
# profile skips (entered in error, cancelled, draft) name nobody responsible.
PATIENTS_AND_REQUESTERS = f"""
SELECT _p.* EXCLUDE (clinician_id), coalesce(_p.clinician_id, _r.clinician_id) AS clinician_id
FROM ({PATIENTS}) AS _p LEFT JOIN (
    SELECT {PATIENT_ID} AS patient_id,
           max_by(coalesce(j->>'$.requester.reference', j->>'$.requester.identifier.value'),
                  coalesce(j->>'$.authoredOn', '') || '|' || coalesce(j->>'$.id', '')) AS clinician_id
    FROM {{MedicationRequest}}
    WHERE coalesce(j->>'$.requester.reference', j->>'$.requester.identifier.value') IS NOT NULL
      AND {STATUS} NOT IN ('entered-in-error', 'cancelled', 'draft')
    GROUP BY 1
) AS _r USING (patient_id)
"""  # noqa: S608 - constant fragments

# An Observation of another category than laboratory (a category with text only says no more than none).
NOT_LAB = (
    f"len({CATEGORIES}) > 0 "
    f"AND NOT list_has_any(list_transform({CATEGORIES}, lambda c: lower(c)), {LAB_CATEGORIES})"
)


# The value-bearing part of an Observation: the Observation itself, or, for one with no value of its
# own whose results are its components (a panel written as component[] rather than hasMember, as some
# HL7 v2 converters write a basic metabolic panel), each component with a value: one result each,
# named by the Observation's id and the component's code ('bmp1#2823-3'). Not a vital sign's (a
# blood pressure's systolic and diastolic): it is skipped once.
def _has_value(x: str) -> str:
    """Whether Observation or component `x` (a JSON expression) has a value: the value[x] the
    LABS select reads."""
    values = (f"{x}->>'$.valueQuantity.value'", f"{x}->>'$.valueInteger'", f"{x}->>'$.valueString'")
    return f"coalesce({', '.join(values)}) IS NOT NULL"


VALUED_COMPONENTS = f"list_filter(json_list(j->'$.component'), lambda c: {_has_value('c')})"
OBSERVATION_PARTS = f"""
SELECT j, part, coalesce(part, j) AS v  -- v: the result's code and value
FROM (SELECT j, unnest(CASE WHEN NOT {_has_value("j")} AND len({VALUED_COMPONENTS}) > 0
                                 AND NOT coalesce({NOT_LAB}, false)  -- a blood pressure: one skip
                            THEN {VALUED_COMPONENTS} ELSE [NULL::JSON] END) AS part
      FROM {{Observation}})
"""  # noqa: S608 - constant fragments
PART_CODE = "(v->'$.code')"

LABS = f"""
SELECT {PATIENT_ID} AS patient_id,
       -- one result: a later export's version replaces this one
       j->>'$.id' || CASE WHEN part IS NULL THEN ''
                     ELSE '#' || coalesce({_coding(PART_CODE, "loinc")}, {_first_display(PART_CODE)}, '') END
           AS result_id,
       coalesce(j->>'$.effectiveDateTime', j->>'$.effectivePeriod.start', j->>'$.effectiveInstant',
                j->>'$.issued') AS collected_at,
       {_coding(PART_CODE, "loinc")} AS loinc_code,
       CASE WHEN {_coding(PART_CODE, "loinc")} IS NULL THEN {_first_display(PART_CODE)} END AS test_name,
       CASE WHEN (v->>'$.valueQuantity.value') IS NOT NULL  -- with its comparator: '<' 0.5 -> '<0.5'
            THEN CASE WHEN v->>'$.valueQuantity.comparator' IN ('<', '<=', '>=', '>')
                      THEN v->>'$.valueQuantity.comparator' ELSE '' END || (v->>'$.valueQuantity.value')
            -- an R4 value[x] of its own for counts ('valueInteger': 4), read as missing before
            WHEN (v->>'$.valueInteger') IS NOT NULL THEN v->>'$.valueInteger'
            ELSE v->>'$.valueString'  -- judged by the shared rules as a generic export's value is
       END AS value,
       -- Quantity.code (UCUM, machine-readable) or .unit (for people: 'millimole per liter'),
       -- whichever the unit map knows, the code first; else as written (the rules judge it)
       coalesce(known_unit(v->>'$.valueQuantity.code'), known_unit(v->>'$.valueQuantity.unit'),
                v->>'$.valueQuantity.unit', v->>'$.valueQuantity.code') AS unit,
       CASE WHEN j IS NULL THEN NULL  -- a malformed line is judged (and rejected) by the shared rules
            WHEN {STATUS} IN ('entered-in-error', 'cancelled') THEN {_status_skip("status")}
            WHEN {NOT_LAB}
            THEN 'not a laboratory observation (' || coalesce(array_to_string({CATEGORIES}, ', '), '') || ')'
       END AS _skip
FROM ({OBSERVATION_PARTS})
"""  # noqa: S608 - constant fragments, values bound

# The drug: medicationCodeableConcept, else the code of the Medication a medicationReference points
# to: one the resource contains ('#med1'), else one in the export's Medication files
# ('Medication/m1'), else the reference's display. A request naming none of these has no drug name
# and is quarantined, so it is seen.
CONTAINED_MEDICATION = (
    "list_filter(json_list(j->'$.contained'), lambda r: (r->>'$.resourceType') = 'Medication' "
    "AND '#' || (r->>'$.id') = (j->>'$.medicationReference.reference'))[1]->'$.code'"
)
MEDICATION = f"coalesce(j->'$.medicationCodeableConcept', {CONTAINED_MEDICATION}, med.code)"
# The Medication resources by id (the first of a repeated id), joined to a request's reference.
MEDICATIONS = """LEFT JOIN (SELECT j->>'$.id' AS id, first(j->'$.code') AS code
                  FROM {Medication} GROUP BY 1) med
       ON med.id = regexp_extract(j->>'$.medicationReference.reference',
                                  '(^|/)Medication/([^/]+)(/_history/[^/]+)?$', 2)"""
NO_MEDICATIONS = "(SELECT NULL::JSON AS j WHERE false)"  # an export without Medication files


# Every dosage of the request or statement (R4: dosageInstruction, a statement's dosage) is taken only
# as needed: asNeededBoolean true or an asNeededCodeableConcept (the condition it is taken for; R5:
# asNeeded, asNeededFor). The drug name then says so, as a GP system's or MIMIC's name does ('PRN'),
# where the checks read it (elderly_numbness_fall_risk: an as-needed item is no regular medicine).
# A regular dose with an as-needed extra ('1 daily, and 1 more when needed') is regular.
DOSAGES = "coalesce(json_list(j->'$.dosageInstruction'), json_list(j->'$.dosage'), [])"
# The row holds the list once as `dosages` (the inner selects of REQUESTS and STATEMENTS).
AS_NEEDED = """CASE WHEN len(dosages) > 0 AND list_bool_and(list_transform(dosages, lambda d:
        coalesce(coalesce(d->>'$.asNeededBoolean', d->>'$.asNeeded') = 'true'
                 OR json_type(d->'$.asNeededCodeableConcept') = 'OBJECT'
                 OR len(json_list(d->'$.asNeededFor')) > 0, false))) THEN ' (as needed)' ELSE '' END"""


# The name of a drug coded without any display or text (R4 makes both optional): its RxNorm code,
# else its ATC code, else its first coding as a FHIR token (system|code). The checks match the codes
# (rxnorm_code, atc_code); rejected for want of a name, an ibuprofen coded 5640 went unaudited.
_FIRST_CODING = f"json_list({MEDICATION}->'$.coding')[1]"
CODED_NAME = f"""coalesce('RxNorm ' || nullif(trim({_coding(MEDICATION, "rxnorm")}), ''),
                         'ATC ' || nullif(trim({_coding(MEDICATION, "atc")}), ''),
                         nullif(trim(coalesce({_FIRST_CODING}->>'$.system', '') || '|'
                                     || ({_FIRST_CODING}->>'$.code')), '|'))"""


def _drug(resource: str) -> str:
    """The patient and drug columns of a request or statement (`resource`, its type), and its name:
    a later export's version of the resource (recoded, stopped, entered in error) restates it. The
    type is part of the name, as an id is unique only within its type."""
    return f"""{PATIENT_ID} AS patient_id,
       '{resource}/' || (j->>'$.id') AS prescription_id,
       coalesce({_first_display(MEDICATION, "rxnorm")}, j->>'$.medicationReference.display',
                {CODED_NAME}) || {AS_NEEDED} AS drug_name,
       {_coding(MEDICATION, "rxnorm")} AS rxnorm_code,
       {_coding(MEDICATION, "atc")} AS atc_code"""


# A request or statement that says it is over, or (on-hold) that the drug is paused: not taken
# from its last update, as a stopped one (a held NSAID or statin has often been held for the very
# reason a check would flag it).
OVER = f"{STATUS} IN ('completed', 'stopped', 'on-hold')"
HALTED = f"{STATUS} IN ('stopped', 'on-hold')"  # stopped: no refill gap follows its end


def _end(start: str, stated_end: str, supply_days: str = "NULL", planned_only: str = "false") -> str:
    """A request's or statement's end_date, from a row holding `updated_day` (UPDATED). Active: its
    stated end (NULL: start + supply days, or open-ended). Over (completed, stopped): the earliest of
    its stated end (or start + supply days) and its last update, the day it was marked over (no
    sooner than its start): a request's validityPeriod is the window to dispense in, not the course,
    and a stopped drug whose window runs on is not taken. Completed with no stated end at all: its
    start (one day, as OHDSI's drug era builder and the OMOP profile read an exposure with no end and
    no supply), not its last update: meta.lastUpdated is when the server last wrote the record, which
    a migration or bulk load sets on every resource, so a course completed in 2018 would read as
    taken until last night's load (with the refill gap after it). Stopped or held with no stated
    end: its last update, the status change that stopped it (else its start), as the drug was taken
    until then; a stop has no refill gap, so a load's date leaves no one taking it on a later as-of
    date. As an end's cap the last update only shortens a stated course. Stopped or held with no last
    update and an end that is only a plan (`planned_only`: a request's validityPeriod or supply, or
    any end of one on hold, a pause of unknown start): its start, as with no end: the day it was
    stopped is unknown, and a dispensing window a year ahead would leave a stopped NSAID taken today.
    A stopped statement's effectivePeriod.end and a stopped request's boundsPeriod.end (where Epic
    writes the day an order was discontinued) are when it was taken to, and stand. Unknown ("the
    state is not currently known", R4) with no stated end and no supply: its start, as completed; only
    active says the drug is still taken, and an 11-year-old record of unknown status read as running
    flagged a diuretic today."""
    planned = f"coalesce({_day(stated_end)}, {_plus_days(_day(start), supply_days)})"
    stopped = f"strftime(greatest(updated_day, {_day(start)}), '%Y-%m-%d')"
    return f"""CASE WHEN NOT {OVER} AND ({STATUS} <> 'unknown' OR {stated_end} IS NOT NULL
                                  OR {supply_days} IS NOT NULL) THEN {stated_end}
            WHEN {stated_end} IS NULL AND {supply_days} IS NULL
            THEN CASE WHEN {HALTED} THEN coalesce({stopped}, {start}) ELSE {start} END
            WHEN updated_day < {planned} THEN {stopped}
            WHEN {HALTED} AND updated_day IS NULL AND {planned_only} THEN {start}
            ELSE {stated_end} END"""


REQUEST_START = _first_day("coalesce(j->>'$.dispenseRequest.validityPeriod.start', j->>'$.authoredOn')")

# Days in each unit of time an R4 Duration may be written in (the units-of-time value set: UCUM's s,
# min, h, d, wk, mo, a), under its UCUM code, the code's case-insensitive UCUM form (MIN, HR, MO, ANN)
# and the words an exporter writes as its display unit ('Days', 'months'), compared in lower case.
# UCUM's month and year are the mean Julian ones: mo = a / 12 = 30.4375 d, a = 365.25 d (so 3 mo is
# 91 days, 12 mo 365); the Gregorian mo_g and a_g differ by well under a day.
TIME_UNITS = (
    ("1 / 86400", ("s", "sec", "second", "seconds")),
    ("1 / 1440", ("min", "minute", "minutes")),
    ("1 / 24", ("h", "hr", "hour", "hours")),
    ("1", ("d", "day", "days")),
    ("7", ("wk", "week", "weeks")),
    ("30.4375", ("mo", "mo_j", "month", "months")),
    ("30.436875", ("mo_g",)),
    ("365.25", ("a", "a_j", "ann", "yr", "year", "years")),
    ("365.2425", ("a_g",)),
)


def _unit_days(unit: str) -> str:
    """The days in one `unit` (a JSON text expression) of TIME_UNITS; NULL for another unit."""
    whens = " ".join(f"WHEN '{name}' THEN {days}" for days, names in TIME_UNITS for name in names)
    return f"CASE lower(trim({unit})) {whens} END"


def _duration_days(duration: str) -> str:
    """The whole days of R4 Duration `duration` (a JSON expression): its value in the unit of its
    code, else of its display unit, whichever TIME_UNITS knows (the code first, as a result's unit
    is read). Rounded to the nearest day (half a day up), and a positive duration shorter than
    that is one day, the day it starts; NULL for another unit or no value."""
    code, display = (_unit_days(f"({duration}->>'$.{field}')") for field in ("code", "unit"))
    days = f"(try_cast({duration}->>'$.value' AS DOUBLE) * coalesce({code}, {display}))"
    return f"greatest(round({days}), CASE WHEN {days} > 0 THEN 1 END)"


# The days a request supplies: its first dispense (initialFill.duration, else expectedSupplyDuration,
# the time one dispense lasts) and, when the prescriber stated no end (request_end, REQUESTS below:
# that end governs then), each repeat allowed (numberOfRepeatsAllowed, "in addition to the original
# dispense") of expectedSupplyDuration: an active order of 30 days with 5 repeats covers 180 days, as a
# repeat prescription does. Repeats count up to ten years in all (MAX_DAYS_SUPPLY: a template's 99
# repeats of 90 days is an ongoing repeat, not a fault of the row). A repeat count that is no whole
# number of at least 0 ('NaN', 'Infinity', -1, 2.5) is read as none (the first dispense alone);
# repeats of an unknown length add nothing. A DOUBLE: 1e20 days fits no integer, and is the row's
# fault.
SUPPLY = "(j->'$.dispenseRequest.expectedSupplyDuration')"
FIRST_FILL = "(j->'$.dispenseRequest.initialFill.duration')"
REPEAT_COUNT = "try_cast(j->>'$.dispenseRequest.numberOfRepeatsAllowed' AS DOUBLE)"
REPEATS = f"""CASE WHEN isfinite({REPEAT_COUNT}) AND {REPEAT_COUNT} >= 0
                  AND {REPEAT_COUNT} = floor({REPEAT_COUNT})
            THEN {REPEAT_COUNT} ELSE 0 END"""
EACH_SUPPLY = _duration_days(SUPPLY)
FIRST_SUPPLY = f"coalesce({_duration_days(FIRST_FILL)}, {EACH_SUPPLY})"
SUPPLY_DAYS = f"""CASE WHEN request_end IS NOT NULL OR ({REPEATS}) = 0 OR {EACH_SUPPLY} IS NULL
                      OR {FIRST_SUPPLY} IS NULL THEN {FIRST_SUPPLY}
                 ELSE greatest({FIRST_SUPPLY},
                               least({FIRST_SUPPLY} + ({REPEATS}) * {EACH_SUPPLY}, {MAX_DAYS_SUPPLY}))
            END"""
# As text for the rules: a whole number, or one too large for any integer as written ('1e+20', 'inf').
SUPPLY_TEXT = "coalesce(try_cast(supply_days AS BIGINT)::VARCHAR, supply_days::VARCHAR)"

# The end of the course as the prescriber wrote it: the dosage's timing bounds, else the dispensing
# window's end. A step's bounds are an end (boundsPeriod.end: Epic writes an order's end there) or a
# length from the request's start (boundsDuration: 'three times a day for 5 days'). The course ends
# at the latest end, or the start plus its length when that is later: steps of one `sequence` number
# (or none) run together, so the longest counts; steps of successive numbers (a taper written as
# lengths) follow one another, so their lengths add up. Only when every step has bounds: a bounded
# loading dose followed by an open-ended maintenance step ('2 daily for 7 days, then 1 daily') is not
# over after the first week.
STEPS = f"""list_transform(json_list(j->'$.dosageInstruction'), lambda d: struct_pack(
    "end" := d->>'$.timing.repeat.boundsPeriod.end',
    days := {_duration_days("(d->'$.timing.repeat.boundsDuration')")},
    sequence := coalesce(try_cast(d->>'$.sequence' AS BIGINT), 0)))"""
TIMED = "list_filter(steps, lambda s: s.days IS NOT NULL)"
BOUNDS_LENGTH = f"""list_sum(list_transform(list_distinct(list_transform({TIMED}, lambda s: s.sequence)),
    lambda n: list_max(list_transform(list_filter({TIMED}, lambda s: s.sequence = n), lambda s: s.days))))"""
# From a row holding BOUNDS_LENGTH once as `bounds_length` (REQUESTS).
BOUNDS_END = f"""CASE WHEN len(list_filter(steps, lambda s: s.end IS NULL AND s.days IS NULL)) = 0
    THEN greatest(list_max(list_transform(steps, lambda s: s.end)),
                  strftime({_plus_days(_day(REQUEST_START), "bounds_length")}, '%Y-%m-%d')) END"""

# The end a request states without dosage bounds: its dispensing window's (validityPeriod.end), or
# its first supply's when that lasts longer. R4's validityPeriod "stale dates" the prescription (the
# window to dispense in), not the course: a 90-day supply dispensed within a 7-day window (a
# controlled drug's 28 days) is taken for 90 days, and read as ending with the window it was off
# after a week and its refill gap.
VALIDITY_END = "(j->>'$.dispenseRequest.validityPeriod.end')"
FIRST_SUPPLY_END = _plus_days(_day(REQUEST_START), FIRST_SUPPLY)
WINDOW_END = f"""CASE WHEN {_day(VALIDITY_END)} < {FIRST_SUPPLY_END}
    THEN strftime({FIRST_SUPPLY_END}, '%Y-%m-%d') ELSE {VALIDITY_END} END"""

REQUESTS = f"""
SELECT {_drug("MedicationRequest")},
       {REQUEST_START} AS start_date,
       {_end(REQUEST_START, "request_end", "supply_days", f"(bounds_end IS NULL OR {STATUS} = 'on-hold')")}
           AS end_date,
       {SUPPLY_TEXT} AS days_supply,
       -- said by the status: 'stopped' (its end is the stop, no refill gap follows); an active or
       -- completed request was not stopped, whatever its dates (its end may be the dispensing
       -- window's, or its last update: no stop to read from them)
       CASE WHEN {HALTED} THEN 'true' WHEN {STATUS} IN ('active', 'completed') THEN 'false'
       END AS stopped,
       CASE WHEN {STATUS} IN ('entered-in-error', 'cancelled', 'draft') THEN {_status_skip("status")}
            -- a request that the drug NOT be given (a recorded contraindication) is no prescription
            WHEN (j->>'$.doNotPerform') = 'true' THEN 'doNotPerform true'
            -- a suggestion (decision support's, or a proposed change) that nobody has ordered yet, or
            -- one option of a request group; a 'plan' stays, as EHRs record the patient's reported
            -- home medicines that way
            WHEN (j->>'$.intent') IN ('proposal', 'option') THEN 'intent ' || (j->>'$.intent') END
           AS _skip
FROM (SELECT *, {SUPPLY_DAYS} AS supply_days
      FROM (SELECT *, coalesce(bounds_end, {WINDOW_END}) AS request_end
            FROM (SELECT *, {BOUNDS_END} AS bounds_end
                  FROM (SELECT *, {BOUNDS_LENGTH} AS bounds_length
                        FROM (SELECT j, {STEPS} AS steps, {DOSAGES} AS dosages, {UPDATED} AS updated_day
                              FROM {{MedicationRequest}})))))
{MEDICATIONS}
"""  # noqa: S608 - constant fragments, values bound

STATEMENT_START = _first_day(
    "coalesce(j->>'$.effectivePeriod.start', j->>'$.effectiveDateTime', j->>'$.dateAsserted')"
)
STATEMENTS = f"""
SELECT {_drug("MedicationStatement")},
       {STATEMENT_START} AS start_date,
       {_end(STATEMENT_START, "(j->>'$.effectivePeriod.end')", planned_only=f"{STATUS} = 'on-hold'")}
           AS end_date,
       NULL::VARCHAR AS days_supply,
       -- an active statement says the drug "is still being taken" (R4 medication-statement-status),
       -- as an active request says it is prescribed: an undated one runs (course_end, said_ongoing);
       -- a completed one ("no longer being taken") does not say whether it was stopped
       CASE WHEN {HALTED} THEN 'true' WHEN {STATUS} = 'active' THEN 'false' END AS stopped,
       -- 'intended': the patient means to take it, and has not yet
       CASE WHEN {STATUS} IN ('entered-in-error', 'not-taken', 'intended') THEN {_status_skip("status")}
       END AS _skip
FROM (SELECT j, {DOSAGES} AS dosages, {UPDATED} AS updated_day FROM {{MedicationStatement}})
{MEDICATIONS}
"""  # noqa: S608 - constant fragments, values bound


def _system(coding: str) -> str:
    """The contract code system of a Condition's `coding` (a JSON expression) by its URI; else the
    URI, which the shared rules reject."""
    uri = f"({coding}->>'$.system')"
    return (
        f"CASE WHEN list_contains($icd10, {uri}) THEN 'ICD-10-CM' WHEN list_contains($icd10who, {uri}) "
        f"THEN 'ICD-10-WHO' WHEN list_contains($snomed, {uri}) THEN 'SNOMED-CT' "
        f"WHEN list_contains($icd9, {uri}) THEN 'ICD-9-CM' ELSE {uri} END"
    )


CLINICAL = "coalesce(json_list(j->'$.clinicalStatus.coding')[1]->>'$.code', '')"
RECORDED = _first_day("(j->>'$.recordedDate')")
ONSET = _first_day("coalesce(j->>'$.onsetDateTime', j->>'$.onsetPeriod.start', j->>'$.recordedDate')")
# An abatement is an end: a partial one is the last day of its period (at the latest its last update), the day
# from which the condition is certainly resolved, as a partial death date is read. Its first day would
# count the condition resolved while it may still have been active (a missed flag, where the last day
# at worst flags a resolved condition for part of a year), and would put an abatement '2019' of an
# onset '2019-06-10' before the onset (rejected). Resolved with no date at all: its last update, else
# its recording, else the day after its onset, the earliest day it can have resolved: the status says
# it is over, and without a date it would count as active for ever. Never the onset day itself: a
# lasting condition (cirrhosis, CKD) ended on the day it was recorded is read as a visit's record
# closing, not as resolved (lasting_unresolved_on, checks/sql/_phrases.sql), and the status is explicit.
ABATEMENT = _last_day(
    "coalesce(j->>'$.abatementDateTime', j->>'$.abatementPeriod.end', j->>'$.abatementPeriod.start')",
    after=f"{_day(ONSET)} + 1",
)
STATUS_RESOLVED = (
    f"coalesce(strftime(least(greatest({_day(f'coalesce({LAST_UPDATE}, {RECORDED})')}, {_day(ONSET)} + 1), "
    f"current_date), '%Y-%m-%d'), {LAST_UPDATE}, {RECORDED}, {ONSET})"
)

# One diagnosis row per coding of a Condition in a contract code system (its system and code, the
# Condition's patient and dates): EHRs code a problem in SNOMED CT and ICD-10-CM at once, and a
# codelist listing only one of them (lower_limb_numbness_symptoms lists SNOMED's 'numbness of lower limb',
# not ICD-10-CM's R20.0 'anaesthesia of skin') must see the coding it lists. Checks ask whether a
# patient has a listed code (one finding per patient, the codes in its evidence), and count days,
# not rows, so a second coding counts nothing twice. A coding repeated (same system and code) is
# one row. A Condition with no coding in those systems (text only, or a local code: problem lists
# hold many) can match no codelist: one row, skipped with its reason and counted, as OMOP skips a
# condition in a vocabulary it does not audit, so such entries never stop a run. A skipped
# Condition gives one row, so it is counted once.
CONDITIONS = f"""
SELECT j, coalesce(_skip, CASE WHEN coalesce(len(codings), 0) = 0 THEN
           coalesce('condition coded in no audited code system ('
                    || (json_list(j->'$.code.coding')[1]->>'$.system') || ')',
                    'condition with no coding in an audited code system (text or local code only)')
       END) AS _skip,
       codings, list_transform(codings, lambda c: ({_system("c")}) || '|' || (c->>'$.code')) AS keys
FROM (
    SELECT j,
           list_filter(json_list(j->'$.code.coding'), lambda c: list_contains(
                           list_concat($icd10, $icd10who, $snomed, $icd9), c->>'$.system')) AS codings,
           -- refuted, entered in error, or one of a differential diagnosis's possibilities (not yet
           -- asserted of the patient); a provisional diagnosis, treated as if present, counts
           CASE WHEN {VERIFICATION} IN ('entered-in-error', 'refuted', 'differential')
                THEN {_status_skip("verificationStatus")} END AS _skip
    FROM {{Condition}}
)
"""  # noqa: S608 - constant fragments, values bound

DIAGNOSES = f"""
SELECT {PATIENT_ID} AS patient_id, coding->>'$.code' AS code, {_system("coding")} AS code_system,
       {ONSET} AS recorded_at,
       -- over by its status: its abatement, unless that is a date to come (a placeholder such as
       -- 9999-12-31, which the rules would read as "not resolved yet"): then as with none
       CASE WHEN {CLINICAL} IN ('resolved', 'inactive', 'remission')
            THEN coalesce(CASE WHEN NOT coalesce(try_cast(left(abatement, 10) AS DATE) > current_date, false)
                               THEN abatement END, {STATUS_RESOLVED})
            ELSE abatement END AS resolved_at,
       -- one condition, in each of its codings: a later export's version replaces them all
       j->>'$.id' AS diagnosis_id,
       _skip
FROM (
    SELECT *, {ABATEMENT} AS abatement, unnest(CASE WHEN _skip IS NULL AND len(codings) > 0
                          THEN list_filter(codings, lambda c, i: list_position(keys, keys[i]) = i)
                          ELSE [coalesce(codings[1], json_list(j->'$.code.coding')[1])] END) AS coding
    FROM ({CONDITIONS})
)
"""  # noqa: S608 - constant fragments, values bound


def _ndjson_files(export_dir: Path) -> list[Path]:
    return sorted(p for p in files_in(export_dir) if p.name.lower().endswith((".ndjson", ".ndjson.gz")))


def _cr_ended(line: bytes) -> bool:
    """Whether the line is records ending in CR alone: UTF-8 text whose first part up to a CR is JSON."""
    first, cr, _ = line.rstrip(b"\r\n").partition(b"\r")
    if not cr:
        return False
    try:
        json.loads(first.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return False
    return True


class _NoResource(InputError):
    """The file's first line is no FHIR resource (not JSON, or JSON without a resourceType)."""


def _first_resource(path: Path) -> dict:
    """The file's first resource, or an error naming the file (and the line, blank lines counted):
    _NoResource when that line is no resource, which the file's name may make up for (by_type)."""
    number, line = 0, b""
    try:
        with open_bytes(path) as handle:
            for number, line in enumerate(handle, 1):  # noqa: B007 - the first non-blank line is kept
                if line.strip():
                    break
    except READ_ERRORS as error:
        raise InputError(f"{path}: cannot be read ({file_fault(error)})") from None
    packed = unnamed_gzip(path, line)
    if packed:
        raise InputError(f"{path}: {packed}")
    wide = wide_text(line)
    if wide:
        raise InputError(f"{path}: {wide}; FHIR bulk data is UTF-8 NDJSON: export it as UTF-8")
    try:
        resource = json.loads(line.decode("utf-8-sig")) if line.strip() else {}
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deeply to read
        if _cr_ended(line):  # DuckDB's reader splits at these: no line count would hold
            raise InputError(
                f"{path}: line {number} holds carriage returns: its lines end in CR alone, where NDJSON "
                "lines end in LF (or CR LF); export it with LF line ends"
            ) from None
        raise _NoResource(
            f"{path}: line {number} is not a FHIR resource in JSON (NDJSON, gzip when named .gz)"
        ) from None
    if line.strip() and (not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str)):
        # valid JSON but no resource ('"text"', [], {}): the file's type is unknown, and passing it
        # over would drop a whole file with exit 0 (a Patient file: every death)
        raise _NoResource(f"{path}: line {number} is not a FHIR resource (no resourceType)")
    return resource


def _named_type(path: Path) -> str | None:
    """The type this profile reads that the file's name names ('Patient.000.ndjson', '1.Patient.ndjson'),
    if it names exactly one, in any case ('patient.ndjson'). Only whole parts between dots count:
    split at '_' too, 'Medication_Request.ndjson' would name Medication."""
    named = {_TYPE_BY_NAME[part.lower()] for part in path.name.split(".") if part.lower() in _TYPE_BY_NAME}
    return named.pop() if len(named) == 1 else None


# When a file's name and its first resource disagree on its type, its first this many lines decide.
TYPE_SAMPLE = 100


def _file_type(path: Path, warn: bool = True) -> str | None:
    """The resource type the file holds: the one its name names (a bulk export writes one type per
    file, named by it), else its first resource's. When the name names one type and the first
    resource is of another this profile reads, the commoner of the two among the file's first
    TYPE_SAMPLE lines wins, the name on a tie: a `Patient.000.ndjson` opening with one stray
    Observation is read as Patients (the stray line quarantined), where typed by its first line it
    was read as Observations and every death in it lost; a `medication.ndjson` of MedicationRequests
    is read as requests, not as the Medications its name names. A first line that is no resource (cut
    or garbled) is quarantined by its number in a file its name types; in one whose name names no
    type it is an error (exit 3): its type is unknown, and passing it over would drop a whole file
    with exit 0. `warn`: log the disagreement (detect's look at the folder does not, so that a run
    says it once)."""
    named = _named_type(path)
    try:
        kind = _first_resource(path).get("resourceType")
    except _NoResource:
        if named is None:
            raise
        return named
    if kind == "Bundle":  # Bundles (an export's deletions) whatever the name says: warnings() names it
        return None
    if kind not in TYPES:
        return named
    if named is None or kind == named:
        return kind
    counts = _type_counts(path)
    chosen = named if counts[named] >= counts[kind] else kind
    if warn:
        log.warning(
            "%s: its name says %s but its first resource is of type %s; read as %s (the commoner of the "
            "two in its first %d lines), and every resource of another type in it is rejected",
            path.name, named, kind, chosen, TYPE_SAMPLE,
        )  # fmt: skip
    return chosen


def _type_counts(path: Path) -> Counter[str]:
    """How many of the file's first TYPE_SAMPLE lines are resources of each type this profile reads."""
    counts: Counter[str] = Counter()
    try:
        with open_bytes(path) as handle:
            for raw in islice(handle, TYPE_SAMPLE):
                try:
                    resource = json.loads(raw.decode("utf-8-sig")) if raw.strip() else None
                except (ValueError, RecursionError):
                    continue
                kind = resource.get("resourceType") if isinstance(resource, dict) else None
                if kind in TYPES:
                    counts[kind] += 1
    except READ_ERRORS as error:
        raise InputError(f"{path}: cannot be read ({file_fault(error)})") from None
    return counts


def _misnamed(files: dict[str, list[Path]], kinds: tuple[str, ...]) -> str:
    """The files read as another type whose first resource is of one of `kinds`, for the error that
    no file of those types was found ('' when there is none)."""
    found = []
    for path in (p for paths in files.values() for p in paths):
        try:
            kind = _first_resource(path).get("resourceType")
        except InputError:
            continue
        if kind in kinds:
            found.append(f"{path.name} starts with a resource of type {kind} but its name names another")
    return f" ({'; '.join(found)}: rename it)" if found else ""


def by_type(export_dir: Path, warn: bool = True) -> dict[str, list[Path]]:
    """The NDJSON files of each resource type this profile reads (_file_type); other types are
    ignored. An empty file is of the type its name names: an export with no resources of a type
    tonight ('Condition.ndjson', empty) holds none, which is not a missing file."""
    found: dict[str, list[Path]] = {}
    for path in _ndjson_files(export_dir):
        kind = _file_type(path, warn)
        if kind is not None:
            found.setdefault(kind, []).append(path)
    return found


def detect(export_dir: Path) -> bool:
    """A folder with NDJSON files holding FHIR Observation, Condition or medication resources."""
    if not _ndjson_files(export_dir):
        return False
    try:
        return bool(set(by_type(export_dir, warn=False)) - {"Patient"})
    except InputError:
        return True  # FHIR-shaped folder with a broken file: let sources() report it


def _first_type(path: Path) -> str | None:
    """The type of the file's first resource; None when it cannot be read (the read reports that)."""
    try:
        return _first_resource(path).get("resourceType")
    except InputError:
        return None


def _bundle_files(export_dir: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The folder's files named with `suffixes` whose first resource is a Bundle."""
    named = sorted(p for p in files_in(export_dir) if p.name.lower().endswith(suffixes))
    return [p for p in named if _first_type(p) == "Bundle"]


# A Bulk Data export since a date (_since) lists the resources deleted since then: its manifest's
# `deleted` array names NDJSON files of Bundles, each entry a request DELETE of 'Type/id' (Bulk Data
# IG v2). They name no patient, and a stored fact is known by its patient and name, so this version
# reads none of them: the run says so, once a night, rather than keep a deleted order's flags quietly.
DELETIONS_NOT_APPLIED = (
    "{files}: the export lists resources deleted at the source (Bundles of DELETE requests, as an "
    "export since a date sends them); clinic-audit does not apply them, so each deleted resource "
    "stays as last sent, with its flags. Have the source send a deleted record as entered-in-error, "
    "or load a full export."
)


def warnings(export_dir: Path) -> list[str]:
    """The run's warnings about this export as a whole (formats.export_warnings): deletions it lists
    that are not applied (DELETIONS_NOT_APPLIED), in Bundle files or its manifest's `deleted`."""
    deleted = [p.name for p in _bundle_files(export_dir, (".ndjson", ".ndjson.gz"))]
    manifest = export_dir / "manifest.json"
    try:
        listed = (
            json.loads(manifest.read_text(encoding="utf-8-sig")).get("deleted")
            if manifest.is_file()
            else None
        )
    except (OSError, ValueError, AttributeError):
        listed = None  # no manifest this profile can read: it reads the files themselves
    if listed and not deleted:
        deleted = ["manifest.json"]
    return [DELETIONS_NOT_APPLIED.format(files=", ".join(deleted))] if deleted else []


BUNDLE_HEAD = re.compile(rb'"resourceType"\s*:\s*"Bundle"')


def _bundle_json(path: Path) -> bool:
    """Whether a .json file opens as a FHIR Bundle (its first 4 KiB: pretty-printed or not)."""
    try:
        with open_bytes(path) as handle:
            return bool(BUNDLE_HEAD.search(handle.read(4096)))
    except READ_ERRORS:
        return False


def hint(export_dir: Path) -> str:
    """What to do with a folder of FHIR Bundles (one .json per patient, Synthea's default FHIR output,
    or a transaction saved from a server), which is not the Bulk Data NDJSON this profile reads; ''
    when it holds none (its first few .json files are looked at)."""
    named = sorted(p for p in files_in(export_dir) if p.name.lower().endswith(".json"))
    if not any(_bundle_json(p) for p in named[:5]):
        return ""
    return (
        "its .json files are FHIR Bundles (one per patient, as Synthea writes by default): clinic-audit "
        "reads FHIR Bulk Data NDJSON, one resource type per file; export with the server's $export, or "
        "set Synthea's exporter.fhir.bulk_data = true"
    )


def _whole_gzip(path: Path) -> None:
    """Read a .gz to its end, or say it is damaged (exit 3): DuckDB's reader does not check the
    trailer's CRC, so a corrupted file would load whatever it decompresses to."""
    try:
        with open_bytes(path) as handle:
            while handle.read(8 << 20):
                pass
    except READ_ERRORS as error:
        raise InputError(f"{path.name}: cannot be read ({file_fault(error)})") from None


def sources(export_dir: Path) -> list[RawSource]:
    """One source per contract table; Observation, Condition and a medication type are required."""
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: export folder not found")
    files = by_type(export_dir)
    for path in (p for paths in files.values() for p in paths if p.name.lower().endswith(".gz")):
        _whole_gzip(path)
    for needed in (("Observation",), ("MedicationRequest", "MedicationStatement"), ("Condition",)):
        if not any(t in files for t in needed):
            bundles = hint(export_dir)
            raise InputError(
                f"{export_dir}: no {' or '.join(needed)} file (such as {needed[0]}.ndjson): a FHIR export "
                f"needs one; one with no such resources sends it empty{_misnamed(files, needed)}"
                + (f"; {bundles}" if bundles else "")
            )
    result = [
        _source("labs", LABS, files, ("Observation",)),
        _source("diagnoses", DIAGNOSES, files, ("Condition",)),
    ]
    meds = [
        (q, t)
        for q, t in ((REQUESTS, "MedicationRequest"), (STATEMENTS, "MedicationStatement"))
        if t in files
    ]
    lookups = ("Medication",) if "Medication" in files else ()
    result.append(
        _source(
            "prescriptions", " UNION ALL ".join(q for q, _ in meds), files, (*(t for _, t in meds), *lookups)
        )
    )
    if "Patient" in files and "MedicationRequest" in files:
        patients = _source("patients", PATIENTS_AND_REQUESTERS, files, ("Patient",), ("MedicationRequest",))
        result.insert(0, patients)
    elif "Patient" in files:
        result.insert(0, _source("patients", PATIENTS, files, ("Patient",)))
    return result


def _source(
    table: str,
    select: str,
    files: dict[str, list[Path]],
    types: tuple[str, ...],
    joined: tuple[str, ...] = (),
) -> RawSource:
    """The source of one table from the files of `types`; `joined`: files it also reads whose lines
    another source stages and quarantines (a line of theirs that is no resource is reported there)."""
    spec = SPECS[table]
    paths = tuple(p for t in (*types, *joined) for p in files[t])
    params: dict[str, object] = {t: [str(p) for p in files[t]] for t in (*types, *joined)}
    params |= {name: uri for name, uri in SYSTEMS.items() if f"${name}" in select}
    params["delim"] = chr(1)
    own = [p for t in types for p in files[t]]  # the label names the files staged, not those joined
    label = own[0].name if len(own) == 1 else f"{own[0].name} (+{len(own) - 1} more)"
    return RawSource(
        spec=spec,
        label=label,
        paths=paths,
        select=select.format(**{"Medication": NO_MEDICATIONS} | {t: _lines(t, t) for t in (*types, *joined)}),
        params=params,
        order=spec.columns,
        lines=False,
        skips=table != "patients",
        faults=faults_of({t: files[t] for t in types}),
        patient_of=patient_in if table == "patients" else None,
    )
