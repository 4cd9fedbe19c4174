"""report.html, email.html and the worklists on the bundled sample: content, markup, safety."""

from __future__ import annotations

import re
import stat
from datetime import date

import duckdb
import html5lib
import pytest

from checks.evaluate import all_checks
from reports.measures import published
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, read_csv_rows, run_pipeline

PATIENT_ID = re.compile(r"\bP\d{4}\b")


@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    """Two runs on the sample (so the rate charts appear); returns the outputs of the second."""
    tmp = tmp_path_factory.mktemp("reports")
    for as_of in ("2026-11-13", "2026-11-20"):
        args = [
            "run",
            "--exports",
            str(SAMPLE_EXPORT),
            "--out",
            str(tmp / "out"),
            "--db",
            str(tmp / "a.duckdb"),
        ]
        # two nightly runs, as-of configured as a scheduler would (an --as-of of its own makes a
        # run ad hoc, outside the trend)
        assert cli(*args, env={"CLINIC_AUDIT_AS_OF": as_of}) == 0
    return tmp


def latest_findings(tmp) -> dict[str, list[str]]:
    with duckdb.connect(str(tmp / "a.duckdb"), read_only=True) as con:
        rows = con.execute(
            # run ids of runs started in the same second do not sort by time: pick the run by as-of
            "SELECT check_id, patient_id FROM findings "
            "WHERE run_id = (SELECT run_id FROM runs WHERE as_of = DATE '2026-11-20')"
        ).fetchall()
    found: dict[str, list[str]] = {c.id: [] for c in all_checks()}
    for check_id, patient_id in rows:
        found[check_id].append(patient_id)
    return found


def parse_strictly(text: str) -> None:
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def test_report_lists_every_check_with_its_counts(sample_reports):
    html = (sample_reports / "out" / "report.html").read_text(encoding="utf-8")
    for check in all_checks():
        ids = latest_findings(sample_reports)[check.id]
        assert f'id="check-{check.id}"' in html
        assert f"{len(ids)} of " in html
        for patient_id in ids:
            assert f'<th scope="row">{patient_id}</th>' in html


def test_report_has_header_charts_and_data_quality(sample_reports):
    html = (sample_reports / "out" / "report.html").read_text(encoding="utf-8")
    assert "As of</dt><dd>2026-11-20" in html
    assert html.count('<svg class="spark"') == len(all_checks())  # two runs: one rate chart per check
    assert "Rejected rows in labs.csv" in html
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing loaded from a network


def test_report_and_email_parse_cleanly(sample_reports):
    for name in ("report.html", "email.html"):
        parse_strictly((sample_reports / "out" / name).read_text(encoding="utf-8"))


def test_email_is_small_inlined_and_has_counts_only(sample_reports):
    path = sample_reports / "out" / "email.html"
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 100_000
    assert not PATIENT_ID.search(html)
    assert "<style" not in html and 'style="' in html  # the inliner moved every rule onto elements
    # #20: "a real link to the report when report_location is set"; unset (as here), where it is, as
    # text: a file:// link to the server's folder is dead on the recipient's machine
    assert "Open the full report" not in html and "file://" not in html and "Full report:" in html
    for check in all_checks():
        assert check.title in html


def test_worklists_match_findings(sample_reports):
    for check_id, ids in latest_findings(sample_reports).items():
        rows = read_csv_rows(sample_reports / "out" / f"worklist_{check_id}.csv")
        assert sorted(r["patient_id"] for r in rows) == sorted(ids)
        assert [r["priority"] for r in rows] == sorted(
            (r["priority"] for r in rows), key=lambda p: p != "high"
        )
        assert all(date.fromisoformat(r["flagged_since"]) <= date(2026, 11, 20) for r in rows)


def test_worklists_put_the_most_overdue_first_within_a_priority(sample_reports):
    """On the sample's first nights most flags are as old as each other, and the order fell to the
    patient id (P0310, due a year ago, was the diuretic worklist's last row): within a priority the
    earliest due_on comes first (checks that declare one), then the longest flagged."""
    checked = 0
    for check_id in latest_findings(sample_reports):
        rows = read_csv_rows(sample_reports / "out" / f"worklist_{check_id}.csv")
        if not rows or "due_on" not in rows[0]:
            continue
        for priority in ("high", "normal"):
            due = [r["due_on"] for r in rows if r["priority"] == priority and r["due_on"]]
            assert due == sorted(due), (check_id, priority)
            checked += len(due) > 1
    assert checked >= 3  # several checks with two or more flags of a priority were looked at


def test_worklist_is_utf8_with_bom(sample_reports):
    raw = next((sample_reports / "out").glob("worklist_*.csv")).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfpatient_id,")


def test_report_files_are_owner_only(sample_reports):
    out = sample_reports / "out"
    for path in [out / "report.html", out / "email.html", *out.glob("worklist_*.csv")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("n", "shown"), [(0, "0"), (1, "1–7"), (7, "1–7"), (8, "10"), (12, "10"), (13, "15")]
)
def test_small_counts_are_banded_and_the_rest_rounded(n, shown):
    assert published(n, 7) == shown


HOSTILE_DRUG = '=HYPERLINK("http://x")<script>alert(1)</script>'


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One patient on a diuretic whose name is both markup and a spreadsheet formula."""
    tmp = tmp_path_factory.mktemp("hostile")
    run_pipeline(
        tmp,
        date(2026, 11, 20),
        patients=[{"patient_id": "P0001", "birth_date": "1950-01-01", "sex": "F"}],
        prescriptions=[
            {
                "patient_id": "P0001",
                "drug_name": HOSTILE_DRUG,
                "atc_code": "C03CA01",
                "start_date": "2026-01-01",
            }
        ],
    )
    return tmp / "out"


def test_markup_in_a_drug_name_is_escaped(hostile_run):
    html = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    parse_strictly(html)


def test_formula_in_a_drug_name_is_neutralised(hostile_run):
    rows = read_csv_rows(hostile_run / "worklist_diuretic_electrolyte_monitoring.csv")
    assert [r["patient_id"] for r in rows] == ["P0001"]
    assert rows[0]["diuretics"] == "'" + HOSTILE_DRUG


def test_a_bidirectional_override_in_the_data_is_shown_not_obeyed(tmp_path):
    """Review 2026-12-06: a patient id 'P0\u202e123' (right-to-left override) read "P0321" in the
    report's call list and worklist, and turned the "new" tag beside it; a drug name with one turned
    the rest of its reason. The report shows each control as what it is; the CSV keeps the id."""
    pid, drug = "P0\u202e123", "Furosemide\u202e 40mg tablets"
    run_pipeline(
        tmp_path,
        date(2026, 11, 20),
        patients=[{"patient_id": pid, "birth_date": "1950-01-01", "sex": "F"}],
        prescriptions=[
            {"patient_id": pid, "drug_name": drug, "atc_code": "C03CA01", "start_date": "2026-01-01"}
        ],
    )
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in html
    assert "P0\u27e8U+202E\u27e9123" in html and "Furosemide\u27e8U+202E\u27e9 40mg" in html
    rows = read_csv_rows(tmp_path / "out" / "worklist_diuretic_electrolyte_monitoring.csv")
    assert [r["patient_id"] for r in rows] == [pid]


def test_large_worklists_are_cut_with_a_pointer_to_the_csv(tmp_path):
    args = [
        "run",
        "--exports",
        str(SAMPLE_EXPORT),
        "--out",
        str(tmp_path / "out"),
        "--db",
        str(tmp_path / "a.db"),
    ]
    assert cli(*args, "--as-of", "2026-11-20", env={"CLINIC_AUDIT_REPORT_MAX_ROWS": "2"}) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    rows = read_csv_rows(tmp_path / "out" / "worklist_diuretic_electrolyte_monitoring.csv")
    assert f"Showing the first 2 of {len(rows)} patients" in html
    assert "worklist_diuretic_electrolyte_monitoring.csv" in html


def test_a_much_smaller_export_is_warned_about(tmp_path):
    def labs(n: int) -> list[dict[str, str]]:
        return [
            {"patient_id": f"P{i:04d}", "collected_at": "2026-10-01", "loinc_code": "2823-3", "value": "4.1",
             "unit": "mmol/L"}
            for i in range(1, n + 1)
        ]  # fmt: skip

    run_pipeline(tmp_path, date(2026, 11, 13), labs=labs(20))
    run_pipeline(tmp_path, date(2026, 11, 20), labs=labs(3))
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    email_html = (tmp_path / "out" / "email.html").read_text(encoding="utf-8")
    assert "labs.csv is much smaller than last time" in html
    assert "about 3 rows, under 50% of the 20 the previous run read" in html  # the guard's one sentence
    assert html.count("much smaller than last time") == 1  # said once, not once per place
    # the email shows the guard's counts under the small-number rule (rows of a file, patients in some)
    assert "labs.csv is much smaller than last time: about 1–7 rows, under 50% of the 20 " in email_html


def test_the_report_names_who_is_no_longer_flagged_and_why(tmp_path):
    """The at-a-glance table counts the patients resolved since the last run; the check's section now
    names them, with why (resolved, or left out as deceased) and what the previous run said, so an
    analyst can tell a test done from a course that ended or a patient who died."""
    from tests.helpers import night, write_export

    drugs = "patient_id,drug_name,start_date\n" + "".join(
        f"{p},furosemide 40 mg tablet,2026-01-01\n" for p in ("P1", "P2", "P3")
    )
    first = write_export(tmp_path / "e1", prescriptions=drugs)
    night(tmp_path, "2026-11-19", first)
    labs = (
        "patient_id,collected_at,loinc_code,test_name,value,unit\n"
        "P1,2026-11-19,2823-3,Potassium,4.1,mmol/L\nP1,2026-11-19,2951-2,Sodium,139,mmol/L\n"
    )
    patients = "patient_id,birth_date,sex,death_date\nP2,1950-01-01,F,2026-11-19\nP3,1950-01-01,M,\n"
    second = write_export(tmp_path / "e2", prescriptions=drugs, labs=labs, patients=patients)
    night(tmp_path, "2026-11-20", second)
    page = (tmp_path / "out-2026-11-20" / "report.html").read_text(encoding="utf-8")
    section = page.split('id="check-diuretic_electrolyte_monitoring"', 1)[1].split("</section>", 1)[0]
    gone = section.split("No longer flagged since the last run", 1)[1]
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td><td class="reason">([^<]+)</td>', gone
    )
    assert [(p, why) for p, why, _ in rows] == [("P1", "resolved"), ("P2", "deceased")]
    assert rows[0][2].startswith("overdue: on a diuretic with no potassium")
    assert "P3" not in gone  # still flagged
