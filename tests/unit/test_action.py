"""Reviews, the call list, the email's headline and the XLSX worklists, unit by unit (#20)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime

import openpyxl
import pytest

from pipelines.db import REFERENCE_DIR
from pipelines.reviews import REASONS, STATUSES, ReviewInput, fingerprint, review_state, validate
from reports.action import FlagReview, Headline, call_list
from reports.email_body import ad_hoc_note, report_href
from reports.html import UNITS, evidence_items, num, overdue
from reports.measures import published
from reports.xlsx import write_xlsx

FLAGS = {"diuretic_electrolyte_monitoring": ("run-1", date(2026, 11, 20), {"P1": '{"diuretics": "x"}'})}


def test_every_reason_names_its_source_and_the_codes_are_the_measure_conventions():
    codes = {r.code for r in REASONS}
    assert {
        "patient_declined",
        "not_clinically_appropriate",
        "done_elsewhere",
        "palliative",
        "other",
    } <= codes
    assert all(r.source and set(r.statuses) <= set(STATUSES) for r in REASONS)
    assert next(r for r in REASONS if r.code == "done_elsewhere").needs_date
    assert next(r for r in REASONS if r.code == "other").needs_note


def test_the_fingerprint_ignores_key_order_and_age_but_not_a_new_drug():
    a = fingerprint('{"diuretics": "furosemide", "age": 80, "last_potassium": null}')
    assert a == fingerprint({"last_potassium": None, "age": 81, "diuretics": "furosemide"})
    assert a != fingerprint({"last_potassium": None, "age": 80, "diuretics": "furosemide; indapamide"})


@pytest.mark.parametrize(
    ("evidence", "until", "as_of", "state"),
    [
        ('{"d": 1}', None, date(2030, 1, 1), "applies"),
        ('{"d": 1}', date(2026, 11, 3), date(2026, 11, 3), "applies"),  # the last day included
        ('{"d": 1}', date(2026, 11, 3), date(2026, 11, 4), "expired"),
        ('{"d": 2}', date(2026, 11, 3), date(2026, 11, 1), "re-opened"),
    ],
)
def test_review_state(evidence, until, as_of, state):
    assert review_state(evidence, fingerprint('{"d": 1}'), until, as_of) == state


def problems(**given):
    item = ReviewInput(**{"patient_id": "P1", "check_id": "diuretic_electrolyte_monitoring"} | given)
    return {(p.column, p.message.split(" ")[0]) for p in validate(item, FLAGS, date(2026, 11, 30))}


def messages(**given):
    item = ReviewInput(**{"patient_id": "P1", "check_id": "diuretic_electrolyte_monitoring"} | given)
    return {(p.column, p.message) for p in validate(item, FLAGS, date(2026, 11, 30))}


def test_validation_names_each_column():
    assert problems(status="exception", reason="palliative") == set()
    assert ("reason", "action_planned") in problems(status="exception", reason="action_planned", note="x")
    assert ("note", "reason") in problems(status="acknowledged", reason="other")
    assert ("done_on", "reason") in problems(status="exception", reason="done_elsewhere")
    # what is wrong, never the value given: a sheet's shifted cells hold patient ids and free text
    assert ("status", "not one of: acknowledged, exception") in messages(status="later", reason="palliative")
    assert ("check_id", "not a known check id (see `clinic-audit checks`)") in messages(
        check_id="P0026", status="exception", reason="palliative"
    )
    assert ("done_on", "a date in the future") in messages(
        status="exception", reason="done_elsewhere", done_on="2026-12-01"
    )
    assert ("until", "before the flag's as-of date 2026-11-20: the review would never apply") in messages(
        status="exception", reason="palliative", until="2026-11-19"
    )
    assert ("until", "not a date (YYYY-MM-DD)") in messages(
        status="exception", reason="palliative", until="soon"
    )
    # an unflagged patient: the message names the check and run, never the patient (it is logged)
    assert ("patient_id", "the") in problems(patient_id="P2", status="exception", reason="palliative")


def review(status="exception", state="applies") -> FlagReview:
    return FlagReview(status, "patient_declined", None, "ana", datetime(2026, 11, 21, 9), None, None, state)


@dataclass(frozen=True)
class Summary:
    check_id: str
    title: str
    new: int | None = 0


@dataclass(frozen=True)
class Row:
    patient_id: str
    priority: str
    reason: str = "why"
    evidence: tuple = ()
    days_flagged: int = 0
    runs_flagged: int = 2


@dataclass(frozen=True)
class Section:
    summary: Summary
    worklist: tuple


def test_the_call_list_ranks_by_high_flags_then_most_overdue_and_leaves_out_exceptions():
    as_of = date(2026, 11, 20)
    a = Section(
        Summary("a", "Check A"),
        (
            Row("P1", "high", evidence=(("due_on", "2026-11-10"),)),
            Row("P2", "high", evidence=(("due_on", "2026-10-01"),)),
            Row("P3", "normal", evidence=(("due_on", "2025-01-01"),)),
            Row("P4", "high"),
        ),
    )
    b = Section(Summary("b", "Check B"), (Row("P1", "high", runs_flagged=1), Row("P4", "normal")))
    reviews = {("a", "P4"): review(), ("b", "P4"): review()}
    rows, excepted = call_list([a, b], reviews, as_of)
    assert [r.patient_id for r in rows] == ["P1", "P2", "P3"]  # 2 high; 1 high, 50 days; 0 high
    assert excepted == 1  # P4: both flags under an exception that applies
    assert rows[0].high == 2 and rows[0].new and rows[0].most_overdue == 10
    assert rows[1].most_overdue == 50
    reopened = {("a", "P4"): review(state="re-opened"), ("b", "P4"): review(status="acknowledged")}
    rows, excepted = call_list([a, b], reopened, as_of)
    assert "P4" in [r.patient_id for r in rows] and excepted == 0


def test_headline_sentence_and_its_suppressed_form():
    h = Headline(patients=12, new=3, high=2, excepted=0)
    assert h.sentence() == "12 patients need action tonight, 3 new, 2 high priority"
    shared = "10 patients need action tonight, 1–7 new, 1–7 high priority"
    assert h.sentence(lambda n: published(n, 7)) == shared
    assert Headline(1, 0, 0, 0).sentence() == "1 patient needs action tonight, 0 new, 0 high priority"
    assert Headline(0, 0, 0, 3).sentence() == "No patient needs action tonight"
    assert published(12345, 7) == "12,345"


def test_numbers_and_overdue_in_words():
    assert num(1234567) == "1,234,567" and num(None) == "—"
    assert overdue(40) == "overdue by 40 days" and overdue(-1) == "due in 1 day" and overdue(0) == "due today"


def test_units_are_the_canonical_ones_of_the_reference_table():
    with (REFERENCE_DIR / "analytes.csv").open(encoding="utf-8") as handle:
        canonical = {r["analyte"]: r["canonical_unit"] for r in csv.DictReader(handle)}
    assert {a: canonical[a] for a in UNITS} == UNITS


def test_evidence_reads_as_one_line_with_units_and_dates():
    items = evidence_items(
        (
            ("diuretics", "furosemide 40 mg"),
            ("last_potassium_at", "2026-01-02T09:30:00"),
            ("last_potassium", "3.1"),
            ("last_creatinine_at", "2026-01-02T09:30:00"),
            ("last_creatinine", "101.0"),
            ("last_magnesium_at", "2025-12-01T10:00:00"),
            ("last_magnesium", "<0.5"),
            ("last_sodium_at", None),
            ("last_sodium", None),
            ("last_egfr_at", None),
            ("last_egfr", None),
            ("baclofen_prescribed", None),
            ("age", 81),
        )
    )
    assert items == [
        ("diuretics", "furosemide 40 mg"),
        ("last on 2026-01-02", "potassium 3.1 mmol/L, creatinine 101 umol/L"),
        ("last on 2025-12-01", "magnesium <0.5 mmol/L"),
        ("age", "81 years"),
        ("no result", "sodium, egfr"),
    ]


def test_the_report_link():
    assert report_href("https://intranet/audit/report.html") == "https://intranet/audit/report.html"
    assert report_href("/srv/audit/report.html") == "file:///srv/audit/report.html"
    assert report_href("\\\\fileserver\\audit\\report.html") == "file://fileserver/audit/report.html"
    assert report_href("report.html") == ""  # relative: no link a mail client could follow


def test_xlsx_has_a_frozen_header_filters_widths_and_no_formulas(tmp_path):
    path = write_xlsx(
        tmp_path / "w.xlsx",
        ["patient_id", "drug", "days_flagged"],
        [["P1", '=HYPERLINK("http://x","click")', 12], ["P2", "furosemide 40 mg tablet", 0]],
        title="worklist",
    )
    sheet = openpyxl.load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:C3"
    assert sheet["B2"].data_type == "s" and sheet["B2"].value.startswith("=HYPERLINK")
    assert sheet["C2"].value == 12
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["C"].width
    assert sheet["A1"].font.bold
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_control_character_in_export_text_does_not_stop_the_workbook(tmp_path):
    """A vertical tab pasted into a drug name is no XML character: openpyxl refused the whole file,
    and every night after failed the same way. It is shown as U+FFFD; the rest stays."""
    path = write_xlsx(tmp_path / "w.xlsx", ["drug"], [["furosemide\x0b40 mg\x1f"]], title="worklist")
    assert openpyxl.load_workbook(path).active["A2"].value == "furosemide\ufffd40 mg\ufffd"


def test_only_an_ad_hoc_runs_email_carries_the_ad_hoc_note():
    assert ad_hoc_note("scheduled", ()) == ""
    assert ad_hoc_note("ad hoc", ()) == "Ad-hoc run (--ad-hoc): an analyst's question, not tonight's audit."
    note = ad_hoc_note("ad hoc", ("--as-of 2026-06-30", "--checks"))
    assert note.startswith("Ad-hoc run (--as-of 2026-06-30, --checks):")
