"""The export contract: one declaration per table, from which everything else about it follows.

Every format profile (pipelines/formats/) yields a table's contract `columns` as text;
`pipelines/sql/stage_<table>.sql` types them (keeping each column's text in its `text_column`), the
declared `rules` (pipelines/rules.py) validate the typed rows, and the `stored` columns are loaded
into `stored_in` (pipelines/sql/schema.sql), a row being new unless its `identity` is already
there. The generic CSV export (README) is this contract as files. docs/schema.md documents it, and
tests/unit/test_contract.py holds the declaration, the staging SQL, the schema, the rules and the
docs together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from pipelines import rules
from pipelines.rules import Rule

# A row's skip reason (`_skip`, set by a format's staging SQL) beginning so says the record is no
# valid record any more (a FHIR Observation or MedicationRequest entered-in-error or cancelled, a
# Condition entered-in-error, refuted or only a differential): the fact it names
# (TableContract.named_by) is withdrawn, every stored version superseded (pipelines/ingest.py
# _withdraw), until an export sends it again. Other skips do not: a row coded in nothing the audit
# reads (a FHIR Condition in a local code, an OMOP condition with no concept) may be an export's
# fault as well as the source's statement (a vocabulary left out of the export would withdraw every
# diagnosis, with no row rejected to say so).
WITHDRAWING_SKIP_PREFIXES = ("status ", "verification status ")


@dataclass(frozen=True)
class TableContract:
    """One export table: its file, its columns, how they are validated, stored and told apart."""

    table: str  # the contract table; staged by stage_<table>.sql into typed_<table>
    file: str  # its file in the generic CSV export
    required: tuple[str, ...]
    optional: tuple[str, ...]
    rules: Callable[[date, str], list[Rule]]  # the table's validation rules: export date, date order
    stored: tuple[str, ...]  # the columns loaded (besides _run_id), typed, by the staging SQL's names
    identity_date: str  # the date column of a row's identity (see `identity`)
    # The stored DATE/TIMESTAMP columns: what `--as-of per-patient` moves (checks/sql/_aligned.sql).
    dates: tuple[str, ...] = ()
    # The date of the clinical event a row records (None: the table records no event): what the
    # data's date range, the coverage and freshness guards and the per-patient alignment read.
    event_date: str | None = None
    stored_in: str = ""  # the storage table, when it is not named like the contract table
    mandatory_file: bool = True
    one_of: tuple[str, ...] = ()  # at least one of these columns must be present
    # For a contract column whose text (trimmed, as read) the staging SQL keeps under another name:
    # that name. Quarantined rows are shown with these values, in the file's column order.
    text: Mapping[str, str] = field(default_factory=dict)
    # Stored columns derived from others, and so no part of a row's identity.
    derived: tuple[str, ...] = ()
    # The stored column by which the source names a row without stating anything about it (a
    # lab result's result_id, a prescription's prescription_id), and so no part of its identity
    # either: a database written before the column existed holds the same rows without it, and a
    # night that sends them with it adds nothing. A row sent with a name is a fact with versions,
    # told apart by patient and name (name_key, fact_when), whatever else a later export says of it
    # (a corrected value, a drug recoded by a new vocabulary); one without is told apart by fact_key.
    # Empty: the source names no row.
    named_by: str = ""
    # Stored columns computed from the staged columns after staging (an SQL expression each), not
    # in stage_<table>.sql, whose projection must keep the file's order (see stage_labs.sql).
    computed: Mapping[str, str] = field(default_factory=dict)
    # For a row without a name (named_by): the columns (or SQL expressions of them) naming one fact
    # whose other columns a later export may state otherwise (a patient: their death, site; a
    # prescription, by patient, drug, codes and start: its end). The latest export's statement
    # counts: a stored version re-sent unchanged is restated by this run (its _run_id moves to it,
    # pipelines/ingest.py _restate) though not loaded again, so a death recorded in error and then
    # undone ends undone. Empty: unnamed rows are facts of their own (a lab result without an id).
    fact_key: tuple[str, ...] = ()
    # Whether one name holds several rows at once (a FHIR Condition: a row per coding): a later export
    # sending fewer of them (a coding dropped) restates the fact, though it adds no row, when no
    # version of it is rejected that night (pipelines/ingest.py _restate_named). Without it a fact is
    # looked at only when a row of it is added: one name, one row (a result, a prescription), and no
    # look at every stored name each night.
    several_rows_per_name: bool = False
    # The storage table marks the versions of a fact the latest export did not state `_superseded`
    # (kept, not read: current_prescriptions); without it, the reader picks the latest (patient_state).
    supersedes: bool = False
    # Whether a row of this table that cannot be read leaves its patient out of every check until one
    # loads (the patients file: a lost row may be a death or the end of a registration), kept in
    # unreadable_patients (pipelines/ingest.py _track_unreadable), and its file read even when
    # unchanged while anyone is so left out.
    tracks_unreadable: bool = False

    @property
    def current(self) -> str:
        """The relation holding the current version of each row: the storage table, or the view of
        its versions not superseded (pipelines/sql/views.sql current_prescriptions)."""
        return f"current_{self.storage_table}" if self.supersedes else self.storage_table

    @property
    def fact_when(self) -> str:
        """The SQL condition a row meets to be a fact told apart by its name (name_key): named,
        when the contract names rows (named_by); empty when it names none."""
        return f"{self.named_by} IS NOT NULL" if self.named_by else ""

    @property
    def name_key(self) -> tuple[str, ...]:
        """The columns naming a fact a row names (named_by): its patient and its name."""
        return ("patient_id", self.named_by) if self.named_by else ()

    @property
    def restated(self) -> bool:
        """Whether a later export's statement of a fact replaces an earlier one (fact_key, name_key)."""
        return bool(self.fact_key or self.named_by)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the staging SQL refers to, required first."""
        return self.required + self.optional

    @property
    def storage_table(self) -> str:
        """The table the rows are stored in."""
        return self.stored_in or self.table

    @property
    def identity(self) -> tuple[str, ...]:
        """The columns that identify a row (an exported fact), for de-duplication across
        overlapping nightly exports: the stored ones less the derived ones and the name (named_by)."""
        return tuple(c for c in self.stored if c not in self.derived and c != self.named_by)

    def text_column(self, column: str) -> str:
        """The staging column holding a contract column's text as read."""
        return self.text.get(column, column)


PATIENTS = TableContract(
    table="patients",
    file="patients.csv",
    mandatory_file=False,
    tracks_unreadable=True,
    required=("patient_id", "birth_date", "sex"),
    # site, clinician: measures (#19); registered_until, registered: who left the practice
    optional=("death_date", "deceased", "site_id", "clinician_id", "registered_until", "registered"),
    text={
        "birth_date": "birth_date_text",
        "sex": "sex_text",
        "death_date": "death_date_text",
        "deceased": "deceased_text",
        "registered_until": "registered_until_text",
        "registered": "registered_text",
    },
    rules=rules.patient_rules,
    stored=(
        "patient_id",
        "birth_date",
        "sex",
        "death_date",
        "deceased",
        "site_id",
        "clinician_id",
        "registered_until",
        "deregistered",
    ),
    identity_date="birth_date",
    dates=("birth_date", "death_date", "registered_until"),
    fact_key=("patient_id",),  # patient_state reads each patient's latest statement (views.sql)
)

# Lab results are stored as exported in `lab_results`; the `labs` view (pipelines/sql/views.sql)
# adds what they measure, looked up through lab_concepts. A result the source names (result_id: a
# FHIR Observation's id, an OMOP measurement_id, a MIMIC labevent_id, a laboratory's accession and
# test) is one fact: a later export's corrected or amended value replaces the one before (kept,
# `_superseded`, read by no check), and a later export that leaves it out of the audit (a FHIR
# Observation now entered-in-error or cancelled) withdraws it. A result without an id is a fact of
# its own, as before.
LABS = TableContract(
    table="labs",
    file="labs.csv",
    required=("patient_id", "collected_at", "value"),
    optional=("loinc_code", "test_name", "unit", "result_id"),
    one_of=("loinc_code", "test_name"),
    text={"collected_at": "collected_at_text", "value": "value_text", "unit": "unit_original"},
    rules=rules.lab_rules,
    stored_in="lab_results",
    stored=(
        "patient_id",
        "collected_at",
        "loinc_code",
        "test_name",
        "value_original",
        "unit_original",
        "value_comparator",
        "result_id",
    ),
    computed={"value_comparator": "result_comparator(value_text)"},
    named_by="result_id",  # a result without one is a fact of its own (no fact_key)
    identity_date="collected_at",
    dates=("collected_at",),
    event_date="collected_at",
    supersedes=True,
)

PRESCRIPTIONS = TableContract(
    table="prescriptions",
    file="prescriptions.csv",
    required=("patient_id", "drug_name", "start_date"),
    # stopped: the source says the drug was stopped (FHIR status 'stopped', a GP system's
    # discontinued flag): its end date is a stop, not the end of an issue (no refill gap)
    # prescription_id: the source's name for the prescription (an OMOP exposure's source record, a
    # FHIR MedicationRequest's id), by which a later export's version of it replaces the one before
    optional=("rxnorm_code", "atc_code", "end_date", "days_supply", "stopped", "prescription_id"),
    text={
        "start_date": "start_date_text",
        "end_date": "end_date_text",
        "days_supply": "days_supply_text",
        "stopped": "stopped_text",
    },
    rules=rules.prescription_rules,
    stored=(
        "patient_id",
        "drug_name",
        "rxnorm_code",
        "atc_code",
        "start_date",
        "end_date",
        "days_supply",
        "end_effective",
        "stopped",
        "prescription_id",
    ),
    derived=("end_effective",),  # end_date, else start_date + days_supply, else start_date if stopped
    identity_date="start_date",
    dates=("start_date", "end_date", "end_effective"),
    event_date="start_date",
    # a prescription sent without a name (prescription_id) is one fact by patient, drug, codes and
    # start, the drug by its name in any case: a system upgrade re-sending every name in capitals
    # restates the same prescriptions (an SQL expression: fact_key is only ever hashed). One sent
    # with a name is one fact by patient and name: a CDM refreshed with a new vocabulary recodes
    # every drug, and the recoded exposure is the same prescription, restated
    named_by="prescription_id",
    fact_key=("patient_id", "lower(drug_name)", "rxnorm_code", "atc_code", "start_date"),
    supersedes=True,
)

DIAGNOSES = TableContract(
    table="diagnoses",
    file="diagnoses.csv",
    required=("patient_id", "code", "code_system", "recorded_at"),
    # diagnosis_id: the source's name for the condition (a FHIR Condition's id, an OMOP condition's
    # source record), by which a later export's version of it (recoded, resolved, entered in error)
    # replaces the one before
    optional=("resolved_at", "diagnosis_id"),
    text={
        "code": "code_original",
        "code_system": "code_system_text",
        "recorded_at": "recorded_at_text",
        "resolved_at": "resolved_at_text",
    },
    rules=rules.diagnosis_rules,
    stored=(
        "patient_id",
        "code",
        "code_original",
        "code_system",
        "recorded_at",
        "resolved_at",
        "diagnosis_id",
    ),
    derived=("code_original",),  # the code as written; `code`, its normalised form, identifies it
    identity_date="recorded_at",
    dates=("recorded_at", "resolved_at"),
    event_date="recorded_at",
    # a diagnosis sent without a name (diagnosis_id) is one by patient, code and the day it was
    # recorded, whose latest statement counts: a condition exported open one night and resolved the
    # next (an OMOP condition_end_date, a Synthea STOP) is resolved, not also still open. One sent with
    # a name is one by patient and name, whatever its codes: the rows of a Condition coded in SNOMED CT
    # and ICD-10-CM are its versions, together current while sent; a Condition recoded, resolved or
    # now entered in error or refuted (withdrawn) replaces them all
    named_by="diagnosis_id",
    several_rows_per_name=True,
    fact_key=("patient_id", "code", "code_system", "recorded_at"),
    supersedes=True,
)

# The contract tables, in the order an export is read.
CONTRACTS: tuple[TableContract, ...] = (PATIENTS, LABS, PRESCRIPTIONS, DIAGNOSES)
CONTRACT_BY_TABLE: dict[str, TableContract] = {contract.table: contract for contract in CONTRACTS}


def event_dates() -> tuple[tuple[str, str, str], ...]:
    """(contract table, storage table, event date column) of every table that records clinical events:
    labs by collection, prescriptions by start, diagnoses by recording."""
    return tuple((c.table, c.storage_table, c.event_date) for c in CONTRACTS if c.event_date)
