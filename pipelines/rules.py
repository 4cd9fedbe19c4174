"""The validation rules of every export table, as pandera schemas over DuckDB tables (ibis backend).

Each table's declaration in pipelines/contract.py names its rules (`patient_rules`, ...). Each rule
is a small, named, row-wise predicate over the *typed staging table* that
`pipelines/sql/stage_<table>.sql` builds. Rules are dataframe-level pandera checks so that a
failure case carries the whole row, including its `_rec` (record number in the file), which is
how a failing row finds its way to the quarantine with its line number. Predicates are written
NULL-tolerant on purpose: "optional and empty" must pass, only "present and wrong" fails.

A *soft* rule judges a value the audit can do without: when a row fails only soft rules it is
loaded with the columns the rule `clears` set to NULL, and each failure is noted in `row_notes`
instead of quarantining the row (a valid fact wins over an implausible optional one). Soft, by
design: prescriptions' days_supply when a valid end_date gives the end anyway (without one, the
days supply is the end, and a bad one rejects the row); rxnorm_code and atc_code formats (the
required drug_name still names the drug); patients' sex (a check needing it, the eGFR estimated
from a creatinine, reads an unknown sex as either).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.datatypes as dt
import pandera.ibis as pa
from ibis.expr.types import BooleanValue, Table

ICD10CM_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"
ICD9CM_PATTERN = r"^([0-9]{3}(\.?[0-9]{1,2})?|V[0-9]{2}(\.?[0-9]{1,2})?|E[0-9]{3}(\.?[0-9])?)$"
SNOMED_PATTERN = r"^[1-9][0-9]{5,17}$"
RXNORM_PATTERN = r"^[0-9]{1,9}$"
ATC_PATTERN = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
EARLIEST = date(1900, 1, 1)
MAX_DAYS_SUPPLY = 3650


@dataclass(frozen=True)
class Rule:
    """One validation rule: which column it judges, its name, and a readable message.

    A soft rule's failure is noted and its `clears` columns loaded as NULL; a hard one's rejects the row.
    """

    column: str
    name: str
    message: str
    passes: Callable[[Table], BooleanValue]
    soft: bool = False
    clears: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The identifier pandera reports for this rule's failures (a soft rule's ends in ':note')."""
        return f"{self.column}:{self.name}" + (":note" if self.soft else "")


def _required(column: str, source: str | None = None) -> Rule:
    """The column must hold something (checked on `source`, its text, when it is parsed)."""
    return Rule(column, "required", f"{column} is empty", lambda t: t[source or column].notnull())


def _soft(rule: Rule) -> Rule:
    """The same rule, noted rather than fatal: the row loads without the rule's column."""
    return Rule(
        rule.column, rule.name, f"{rule.message}; loaded without it", rule.passes, True, (rule.column,)
    )


def _parsed(column: str, kind: str) -> Rule:
    """A text value that was present must have parsed (typed column not NULL)."""
    return Rule(
        column,
        "format",
        f"{column} is not a valid {kind}",
        lambda t: t[f"{column}_text"].isnull() | t[column].notnull(),
    )


def _read_or_cleared(column: str, rule: str, message: str) -> Rule:
    """Soft: a text that was present must have been read (typed column not NULL); a row whose value
    cannot be read loads without it (noted), for a value no rule of the row's own needs."""
    return Rule(
        column,
        rule,
        message,
        lambda t: t[f"{column}_text"].isnull() | t[column].notnull(),
        soft=True,
        clears=(column,),
    )


def _date_in_range(column: str, export_date: date) -> Rule:
    """Dates before 1900 or after the export date are typing errors, not history."""
    return Rule(
        column,
        "date_range",
        f"{column} is before {EARLIEST} or after the export date {export_date}",
        lambda t: (
            t[column].isnull()
            | t[column].cast(dt.date).between(ibis.literal(EARLIEST), ibis.literal(export_date))
        ),
    )


def _matches(column: str, pattern: str, what: str, soft: bool = False) -> Rule:
    return Rule(
        column,
        "format",
        f"{column} is not a valid {what}" + ("; loaded without it" if soft else ""),
        lambda t: t[column].isnull() | t[column].re_search(pattern),
        soft=soft,
        clears=(column,) if soft else (),
    )


# What a date column holds under each `date_order` setting (the format rule's message).
DATE_KINDS = {
    "iso": "ISO 8601 date",
    "day-first": "date (ISO 8601, or day/month/year as date_order = day-first reads)",
    "month-first": "date (ISO 8601, or month/day/year as date_order = month-first reads)",
}


def _date_kind(date_order: str, with_time: bool = False) -> str:
    kind = DATE_KINDS[date_order]
    return kind.replace("date", "date or datetime", 1) if with_time else kind


def _dated(column: str, export_date: date, date_order: str, with_time: bool = False) -> list[Rule]:
    return [_parsed(column, _date_kind(date_order, with_time)), _date_in_range(column, export_date)]


def patient_rules(export_date: date, date_order: str = "iso") -> list[Rule]:
    """Rules for patients.csv rows."""
    return [
        _required("patient_id"),
        # soft: only the age-based check needs the birth date; a patient whose birth date is wrong
        # still loads (with birth_date unknown), so their death and their other checks still count
        *(_soft(rule) for rule in _dated("birth_date", export_date, date_order)),
        # the patient loads with sex unknown (NULL), which ckd_epi_2021 reads as either
        _read_or_cleared(
            "sex", "allowed", "sex is not one of F, M, O, U (female, male, other, unknown); loaded as unknown"
        ),
        # Death takes a patient out of every check, so a death date that cannot be read rejects the row.
        *_dated("death_date", export_date, date_order),
        Rule(  # soft: one of the two dates is wrong; the death is the fact that must not be lost
            "death_date",
            "after_birth",
            "death_date is before birth_date; loaded without the birth date",
            lambda t: t.death_date.isnull() | t.birth_date.isnull() | (t.death_date >= t.birth_date),
            soft=True,
            clears=("birth_date",),
        ),
        Rule(
            "deceased",
            "yes_no",
            "deceased is not a yes/no value (true/false, yes/no, y/n, 1/0)",
            lambda t: t.deceased_text.isnull() | t.deceased_stated.notnull(),
        ),
        Rule(
            "deceased",
            "consistent",
            "deceased is false but a death_date is given",
            lambda t: t.death_date_text.isnull() | t.deceased_stated.isnull() | t.deceased_stated,
        ),
        # Leaving the practice takes a patient out of every check too, so an unreadable registration
        # end rejects the row. A planned end (a temporary resident's) may lie after the export date.
        _parsed("registered_until", _date_kind(date_order, False)),
        Rule(
            "registered_until",
            "date_range",
            f"registered_until is before {EARLIEST}",
            lambda t: t.registered_until.isnull() | (t.registered_until >= ibis.literal(EARLIEST)),
        ),
        Rule(
            "registered",
            "yes_no",
            "registered is not a yes/no value (true/false, yes/no, y/n, 1/0)",
            lambda t: t.registered_text.isnull() | t.registered_stated.notnull(),
        ),
    ]


def lab_rules(export_date: date, date_order: str = "iso") -> list[Rule]:
    """Rules for labs.csv rows: identity, date, code, numeric value, unit and plausibility."""
    return [
        _required("patient_id"),
        _required("collected_at", "collected_at_text"),
        *_dated("collected_at", export_date, date_order, with_time=True),
        Rule(
            "loinc_code",
            "test_identified",
            "loinc_code and test_name are both empty",
            lambda t: t.loinc_code.notnull() | t.test_name.notnull(),
        ),
        Rule(  # judged once per distinct code in lab_concepts (macro loinc_format_ok), not per row
            "loinc_code",
            "format",
            "loinc_code is not a valid LOINC code (digits, hyphen, check digit)",
            lambda t: t.loinc_code.isnull() | t.loinc_format_ok,
        ),
        Rule(
            "loinc_code",
            "check_digit",
            "loinc_code has a wrong check digit",
            lambda t: t.loinc_code.isnull() | t.loinc_check_ok.isnull() | t.loinc_check_ok,
        ),
        # A number or a censored number ('<0.5', '>2000': value_original is the bound). Text with no
        # digit at all ('haemolysed', 'see comment') is a result without a numeric value (NULL), as
        # the other formats load it; text with digits that does not read as one ('4,5', '3.4 mmol/L')
        # is a typing error.
        Rule(
            "value",
            "numeric",
            "value is not a number",
            lambda t: t.value_text.isnull() | t.value_original.notnull() | ~t.value_text.re_search("[0-9]"),
        ),
        Rule(
            "unit",
            "known_unit",
            "unit is not a recognised unit for this test",
            lambda t: t.unit_known,
        ),
        Rule(
            "value",
            "plausible",
            "value is outside the plausible range for this test",
            lambda t: (
                t.value.isnull()
                | t.plausible_low.isnull()
                | t.value.between(t.plausible_low, t.plausible_high)
            ),
        ),
    ]


def prescription_rules(export_date: date, date_order: str = "iso") -> list[Rule]:
    """Rules for prescriptions.csv rows: identity, dates, duration and code formats."""
    return [
        _required("patient_id"),
        _required("drug_name"),
        _required("start_date", "start_date_text"),
        *_dated("start_date", export_date, date_order),
        _parsed("end_date", _date_kind(date_order)),
        Rule(
            "end_date",
            "date_range",
            f"end_date is before {EARLIEST}",
            lambda t: t.end_date.isnull() | (t.end_date >= ibis.literal(EARLIEST)),
        ),
        Rule(
            "end_date",
            "after_start",
            "end_date is before start_date",
            lambda t: t.end_date.isnull() | t.start_date.isnull() | (t.end_date >= t.start_date),
        ),
        Rule(  # without a usable end_date the days supply is the prescription's end: reject
            "days_supply",
            "positive_integer",
            f"days_supply is not a whole number from 1 to {MAX_DAYS_SUPPLY}",
            lambda t: _days_supply_ok(t) | _end_date_usable(t),
        ),
        Rule(  # beside a usable end_date it is not needed: note it and load the row without it
            "days_supply",
            "positive_integer",
            f"days_supply is not a whole number from 1 to {MAX_DAYS_SUPPLY}; ignored, end_date gives the end",
            lambda t: _days_supply_ok(t) | ~_end_date_usable(t),
            soft=True,
            clears=("days_supply",),
        ),
        _matches("rxnorm_code", RXNORM_PATTERN, "RxNorm code (digits)", soft=True),
        _matches("atc_code", ATC_PATTERN, "ATC code", soft=True),
        Rule(  # a discontinued drug whose stop date was not exported: ended at its start, not ongoing
            "stopped",
            "without_end",
            "stopped, with no end_date or days_supply to say when: ends on its start_date",
            lambda t: ~(t.stopped.fill_null(False) & t.end_date.isnull() & t.days_supply_text.isnull()),
            soft=True,
        ),
        # a flag that cannot be read says nothing: the row loads, its end read as exported
        _read_or_cleared(
            "stopped",
            "yes_no",
            "stopped is not a yes/no value (true/false, yes/no, y/n, 1/0); loaded without it",
        ),
    ]


def _days_supply_ok(t: Table) -> BooleanValue:
    """No days supply, or a whole number of days in range."""
    return t.days_supply_text.isnull() | t.days_supply.between(1, MAX_DAYS_SUPPLY).fill_null(False)


def _end_date_usable(t: Table) -> BooleanValue:
    """An end_date that parsed, is not before 1900 and not before the start: the end is known."""
    return (
        t.end_date.notnull()
        & (t.end_date >= ibis.literal(EARLIEST))
        & (t.start_date.isnull() | (t.end_date >= t.start_date))
    ).fill_null(False)


def _resolved_in_range(export_date: date, date_order: str) -> list[Rule]:
    """A resolved date must be read and not before 1900; one after the export date is no resolution
    yet: OMOP ETLs and EHR extracts write an ongoing condition's end as a placeholder (9999-12-31,
    2099-12-31). Quarantined, it lost the diagnosis (a cirrhosis, a CKD stage) from every check; it
    loads as not resolved, noted."""
    return [
        _parsed("resolved_at", _date_kind(date_order)),
        Rule(
            "resolved_at",
            "date_range",
            f"resolved_at is before {EARLIEST}",
            lambda t: t.resolved_at.isnull() | (t.resolved_at.cast(dt.date) >= ibis.literal(EARLIEST)),
        ),
        Rule(
            "resolved_at",
            "future",
            f"resolved_at is after the export date {export_date} (an ongoing condition's end written as a "
            "placeholder, such as 9999-12-31); loaded as not resolved",
            lambda t: t.resolved_at.isnull() | (t.resolved_at.cast(dt.date) <= ibis.literal(export_date)),
            soft=True,
            clears=("resolved_at",),
        ),
    ]


def diagnosis_rules(export_date: date, date_order: str = "iso") -> list[Rule]:
    """Rules for diagnoses.csv rows: identity, code system, code format per system, dates."""

    def code_fits(t: Table) -> BooleanValue:
        system = t.code_system
        return (
            t.code_original.isnull()
            | system.isnull()
            | (system.isin(["ICD-10-CM", "ICD-10"]) & t.code_original.re_search(ICD10CM_PATTERN))
            | ((system == "ICD-9-CM") & t.code_original.re_search(ICD9CM_PATTERN))
            | ((system == "SNOMED-CT") & t.code_original.re_search(SNOMED_PATTERN))
        )

    return [
        _required("patient_id"),
        _required("code", "code_original"),
        _required("code_system", "code_system_text"),
        Rule(
            "code_system",
            "allowed",
            "code_system is not ICD-10-CM, ICD-10 (WHO), ICD-9-CM or SNOMED-CT",
            lambda t: t.code_system_text.isnull() | t.code_system.notnull(),
        ),
        Rule("code", "format", "code does not fit its code_system's pattern", code_fits),
        _required("recorded_at", "recorded_at_text"),
        *_dated("recorded_at", export_date, date_order),
        *_resolved_in_range(export_date, date_order),
        Rule(  # a symptom entered after it settled ("cramps last week, gone now"): the row loads as
            # sent, noted; quarantined, it lost a cramp a statin review needed. The checks read it as
            # is: resolved before its recording, it is not current (lasting_unresolved_on leaves open
            # only a lasting condition ended on its recorded day, a visit's record closing)
            "resolved_at",
            "after_recorded",
            "resolved_at is before recorded_at (entered after it resolved, or a mistyped date); "
            "loaded as sent",
            lambda t: t.resolved_at.isnull() | t.recorded_at.isnull() | (t.resolved_at >= t.recorded_at),
            soft=True,
        ),
    ]


def keyed(rules: list[Rule]) -> dict[str, Rule]:
    """Rules keyed as pandera reports their failures."""
    return {rule.key: rule for rule in rules}


def schema_for(rules: list[Rule]) -> pa.DataFrameSchema:
    """The pandera schema of a staging table with these rules, one check per rule."""
    checks = [pa.Check(_as_check(rule), name=rule.name, error=rule.key) for rule in rules]
    return pa.DataFrameSchema(columns={"_rec": pa.Column(dt.int64)}, checks=checks, strict=False)


def combined_check(rules: list[Rule]) -> pa.Check:
    """All of a table's rules as one pandera check: one scan over every row finds the bad ones.

    The per-rule schema (`schema_for`) then runs on those rows only, to say which rules failed.
    """

    def every_rule_passes(data) -> BooleanValue:
        verdict = rules[0].passes(data.table)
        for rule in rules[1:]:
            verdict = verdict & rule.passes(data.table)
        return verdict

    return pa.Check(every_rule_passes, name="all_rules", error="all_rules")


def _as_check(rule: Rule) -> Callable:
    """Adapt a rule (Table -> boolean column) to pandera's ibis check signature."""
    return lambda data: rule.passes(data.table)
