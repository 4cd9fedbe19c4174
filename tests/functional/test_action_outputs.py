"""The run's action outputs on the sample clinic (#20): calllist.csv ranked as documented, XLSX
worklists when asked for, and an email whose subject and headline carry the counts, exact for
internal recipients (email_exact_counts) and suppressed otherwise."""

from __future__ import annotations

import email
import email.policy
import re

import openpyxl
import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, read_csv_rows, run_args

SUPPRESSED = re.compile(r"1–7")


def run(tmp, env):
    args = ["run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp / "out"), "--db", str(tmp / "a.duckdb")]
    assert cli(*args, "--as-of", "2026-11-20", "--email-dry-run", env=env) == 0
    message = email.message_from_bytes((tmp / "out" / "email.eml").read_bytes(), policy=email.policy.default)
    return tmp / "out", message


@pytest.fixture(scope="module")
def internal(tmp_path_factory):
    env = {"CLINIC_AUDIT_EMAIL_EXACT_COUNTS": "true", "CLINIC_AUDIT_WORKLIST_FORMAT": "both"}
    return run(tmp_path_factory.mktemp("internal"), env)


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    return run(tmp_path_factory.mktemp("external"), {})


def test_call_list_has_one_row_per_patient_ranked(internal):
    out, _ = internal
    rows = read_csv_rows(out / "calllist.csv")
    assert rows and len({r["patient_id"] for r in rows}) == len(rows)
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    highs = [int(r["high_priority_flags"]) for r in rows]
    assert highs == sorted(highs, reverse=True)
    flagged = {r["patient_id"] for r in read_csv_rows(out / "findings.csv")}
    assert {r["patient_id"] for r in rows} == flagged  # no review yet: every flagged patient is listed
    several = next(r for r in rows if int(r["flags"]) > 1)
    assert several["checks"].count(" | ") == int(several["flags"]) - 1


def test_worklists_and_the_call_list_are_also_xlsx(internal):
    out, _ = internal
    csvs = sorted(p.stem for p in out.glob("worklist_*.csv"))
    assert csvs and sorted(p.stem for p in out.glob("worklist_*.xlsx")) == csvs
    book = openpyxl.load_workbook(out / "calllist.xlsx")
    sheet = book.active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert [c.value for c in sheet[1]][:3] == ["rank", "patient_id", "high_priority_flags"]
    assert sheet.max_row == len(read_csv_rows(out / "calllist.csv")) + 1


def test_internal_email_has_exact_counts_in_subject_and_headline(internal):
    _, message = internal
    subject = message["Subject"]
    assert re.search(
        r": [\d,]+ need action, [\d,]+ new, [\d,]+ high priority \(audit as of 2026-11-20\)$", subject
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert re.match(r"[\d,]+ patients need action tonight, [\d,]+ new, [\d,]+ high priority\.", text)
    assert 'id="headline"' in html
    assert not SUPPRESSED.search(text + html)
    assert "display:flex" not in html.replace(" ", "") and "grid" not in html


def test_external_email_keeps_small_numbers_suppressed_and_orders_checks_by_high_priority(external):
    out, message = external
    text = message.get_body(("plain",)).get_content()
    assert SUPPRESSED.search(text)
    assert not list(out.glob("*.xlsx"))  # csv by default
    summary_rows = re.findall(r"high priority (\d+|1–7);", text)
    assert summary_rows  # the plain text lists the checks
    order = [int(n) if n.isdigit() else 4 for n in summary_rows]
    assert order == sorted(order, reverse=True)


def test_a_count_a_row_withholds_is_not_told_by_the_headline_or_the_subject(tmp_path):
    """Review 2026-12-06: with one check audited (cramps_cirrhosis on the sample: 8 of 10 flagged),
    its row withholds the flagged count (the not-flagged rest is 2), yet the subject and headline
    said "10 need action, 10 new, 1–7 high priority": the flagged count rounded and the high band
    the row had hidden. Both now leave the counts to the full report. The rejected rows, an exact
    "3", are published as every other count ("1–7")."""
    export = tmp_path / "export"
    export.mkdir()
    bad = {}
    for row in read_csv_rows(SAMPLE_EXPORT.parent / "quarantine_expected.csv"):
        bad.setdefault(row["file"], set()).add(int(row["line"]))
    keep = {("labs.csv", 389), ("labs.csv", 432), ("diagnoses.csv", 134)}  # three rejected rows
    for path in SAMPLE_EXPORT.glob("*.csv"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        dropped = bad.get(path.name, set())
        kept = [t for n, t in enumerate(lines, 1) if n not in dropped or (path.name, n) in keep]
        (export / path.name).write_text("".join(kept), encoding="utf-8")
    assert cli(*run_args(tmp_path, export, "--checks", "cramps_cirrhosis", "--email-dry-run")) == 0
    message = email.message_from_bytes(
        (tmp_path / "out" / "email.eml").read_bytes(), policy=email.policy.default
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert re.search(r"flagged — of 10 ", text), text  # the row withholds it, as before
    assert "need action" not in message["Subject"] and "need action" not in text + html
    assert "withheld" in text.splitlines()[0]
    assert "Rows rejected from the export: 1–7" in text and "Rows rejected from the export: 1–7" in html
