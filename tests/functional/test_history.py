"""`clinic-audit runs`, `report --run` and `prune` on a database with several sample runs."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from pipelines.outputs import MANIFEST
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, read_csv_rows, run_args, table_counts

CHECK = "diuretic_electrolyte_monitoring"


@pytest.fixture
def three_runs(tmp_path, capsys):
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, "--checks", CHECK)) == 0
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    capsys.readouterr()
    return tmp_path


def listed(tmp_path, capsys) -> list[dict]:
    assert cli("runs", "--db", str(tmp_path / "audit.duckdb"), "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def test_runs_lists_every_run_newest_first_with_counts(three_runs, capsys):
    runs = listed(three_runs, capsys)
    assert [r["seq"] for r in runs] == [3, 2, 1]
    assert {r["as_of"] for r in runs} == {"2026-11-20"}
    assert runs[2]["rows_read"] == runs[0]["rows_read"] > 0
    assert runs[2]["rows_loaded"] > 0 and runs[0]["rows_loaded"] == 0  # unchanged files the 2nd time
    assert runs[1]["flags"] < runs[0]["flags"]  # one check only
    assert {r["outcome"] for r in runs} == {"succeeded"}


def test_runs_text_table(three_runs, capsys):
    assert cli("runs", "--db", str(three_runs / "audit.duckdb"), "--limit", "1") == 0
    out = capsys.readouterr().out
    assert "outcome" in out and out.count("succeeded") == 1


def test_runs_without_a_database_is_a_config_error(tmp_path, capsys):
    assert cli("runs", "--db", str(tmp_path / "none.duckdb")) == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()


def test_report_rerenders_a_past_run(three_runs, capsys):
    first = listed(three_runs, capsys)[1]["run_id"]  # the run of one check
    out = three_runs / "again"
    assert cli("report", "--run", first, "--db", str(three_runs / "audit.duckdb"), "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            *("report.html", "email.html", "findings.csv", f"worklist_{CHECK}.csv", "summary.json"),
            *("calllist.csv", "due_soon.csv"),  # #20: the call list and the prospective list
            *("measures.csv", "measures_shared.csv"),  # #19
            MANIFEST,  # what the tool published there: only those may go
        ]
    )
    assert first in (out / "report.html").read_text(encoding="utf-8")
    original = read_csv_rows(three_runs / "out" / f"worklist_{CHECK}.csv")
    again = read_csv_rows(out / f"worklist_{CHECK}.csv")
    assert {r["patient_id"] for r in again} == {r["patient_id"] for r in original}


def test_report_of_an_unknown_run_is_a_config_error(three_runs, capsys):
    assert cli("report", "--run", "nope", "--db", str(three_runs / "audit.duckdb")) == 2
    assert "--run nope" in capsys.readouterr().err


def test_prune_keeps_the_newest_runs_results_and_all_data(three_runs, capsys):
    db = three_runs / "audit.duckdb"
    before = table_counts(db)
    runs = listed(three_runs, capsys)
    assert cli("prune", "--keep-runs", "2", "--db", str(db)) == 0
    printed = capsys.readouterr().out
    assert "findings:" in printed and "run_files: 4 rows removed" in printed
    after = table_counts(db)
    for data in ("patients", "labs", "prescriptions", "diagnoses", "runs"):
        assert after[data] == before[data]
    assert after["findings"] < before["findings"]
    pruned = listed(three_runs, capsys)
    assert [r["outcome"] for r in pruned] == ["succeeded", "succeeded", "succeeded (pruned)"]
    assert pruned[2]["flags"] is None
    assert cli("report", "--run", runs[2]["run_id"], "--db", str(db)) == 2
    assert "pruned" in capsys.readouterr().err
    assert cli(*run_args(three_runs, SAMPLE_EXPORT)) == 0  # the database still works


def test_prune_counts_nights_not_the_ad_hoc_runs_between_them(tmp_path, capsys):
    """Nights N1 N2 N3 with ad-hoc runs A1 (after N1), A2 A3 (after N2): --keep-runs 2 keeps the
    nights N2 N3 and the ad-hoc runs after N2; N1 and A1 go. (Counting every run kept N3 and A3.)"""
    nightly = {"CLINIC_AUDIT_AS_OF": "2026-11-20"}  # the configured as-of: scheduled runs
    args = ["-q", "run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out")]
    args += ["--db", str(tmp_path / "audit.duckdb")]
    for kind in ("N1", "A1", "N2", "A2", "A3", "N3"):
        assert cli(*args, *(("--ad-hoc",) if kind.startswith("A") else ()), env=nightly) == 0
    kinds = [("N" if r["kind"] == "scheduled" else "A", r["seq"]) for r in reversed(listed(tmp_path, capsys))]
    assert [k for k, _ in kinds] == ["N", "A", "N", "A", "A", "N"]
    assert cli("prune", "--keep-runs", "2", "--db", str(tmp_path / "audit.duckdb")) == 0
    capsys.readouterr()
    outcomes = [r["outcome"] for r in reversed(listed(tmp_path, capsys))]
    assert outcomes == ["succeeded (pruned)"] * 2 + ["succeeded"] * 4


def test_prune_needs_at_least_one_run(three_runs, capsys):
    assert cli("prune", "--keep-runs", "0", "--db", str(three_runs / "audit.duckdb")) == 2


def test_rerendering_an_old_run_shows_its_own_data_range_after_more_data_loads(tmp_path, capsys):
    """The report of a past run reads what the run recorded, not today's data: a later export with
    older and newer records leaves the first run's "Data covers" unchanged."""
    import shutil

    assert cli(*run_args(tmp_path, SAMPLE_EXPORT)) == 0
    capsys.readouterr()
    first = listed(tmp_path, capsys)[0]["run_id"]
    db = tmp_path / "audit.duckdb"
    assert cli("report", "--run", first, "--db", str(db), "--out", str(tmp_path / "before")) == 0
    night2 = tmp_path / "night2"
    shutil.copytree(SAMPLE_EXPORT, night2)
    with (night2 / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "P9999,2001-02-03,2823-3,Potassium,4.4,mmol/L\nP9999,2026-11-20,2823-3,Potassium,4.1,mmol/L\n"
        )
    assert cli(*run_args(tmp_path, night2)) == 0
    assert cli("report", "--run", first, "--db", str(db), "--out", str(tmp_path / "after")) == 0
    covers = []
    for folder in ("before", "after"):
        html = (tmp_path / folder / "report.html").read_text(encoding="utf-8")
        covers.append(html.split("<dt>Data covers</dt><dd>")[1].split("</dd>")[0])
    assert covers[0] == covers[1] and "2001-02-03" not in covers[1]
    latest = tmp_path / "out" / "report.html"  # the second run's own report sees the new range
    assert "2001-02-03 to 2026-11-20" in latest.read_text(encoding="utf-8")


def _outputs(folder) -> dict[str, str]:
    """Every output file's text, less what may differ: when and where it was written (any minute)."""
    texts = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST):
        text = path.read_text(encoding="utf-8-sig").replace(str(folder), "OUT")
        texts[path.name] = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "WHEN", text)
    return texts


def test_rerendering_an_old_run_after_a_shrunken_dirty_export_changes_nothing(tmp_path, capsys):
    """Every fact a report shows about a run (guard verdicts, rejection reasons and their example
    lines, counts, data range, warnings, monthly measures) is the run's record: a later night with a
    cut export, other bad rows and late, back-dated data that changes past months' measures leaves
    every output of the first run byte-identical when re-rendered."""
    import shutil

    nightly = ("--scheduled",)  # scheduled runs keep monthly measures
    assert cli(*run_args(tmp_path, SAMPLE_EXPORT, *nightly)) == 0  # night 1 then finds files unchanged
    night1 = tmp_path / "night1"
    shutil.copytree(SAMPLE_EXPORT, night1)
    with (night1 / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "P0001,2026-11-19,2823-3,Potassium,4.1,mmol/L\nP0002,not a date,2823-3,Potassium,4.0,mmol/L\n"
        )
    assert cli(*run_args(tmp_path, night1, *nightly)) == 0
    capsys.readouterr()
    first = listed(tmp_path, capsys)[0]["run_id"]
    db = tmp_path / "audit.duckdb"
    assert cli("report", "--run", first, "--db", str(db), "--out", str(tmp_path / "before")) == 0

    night2 = tmp_path / "night2"
    shutil.copytree(SAMPLE_EXPORT, night2)
    lines = (night2 / "labs.csv").read_text(encoding="utf-8").splitlines()
    cut = [*lines[: len(lines) // 5], "P0003,2026/11/19,2823-3,Potassium,4.2,mmol/L", "P0004,2026-11-20,,,5,"]
    (night2 / "labs.csv").write_text("\n".join(cut) + "\n", encoding="utf-8")
    with (night2 / "prescriptions.csv").open("a", encoding="utf-8") as handle:
        handle.write("P0005,furosemide,,,yesterday,,\n")  # a new bad row in a file night 1 skipped
    with (night2 / "diagnoses.csv").open("a", encoding="utf-8") as handle:  # late: cirrhosis and cramps
        for n in range(1, 60):  # recorded in June, sent only now: June to October are evaluated again
            handle.write(f"P{n:04d},K74.60,ICD-10-CM,2026-06-15,\nP{n:04d},R25.2,ICD-10-CM,2026-06-15,\n")
    assert cli(*run_args(tmp_path, night2, *nightly)) == 0
    second = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "much smaller than last time" in second  # the second night's own verdict

    assert cli("report", "--run", first, "--db", str(db), "--out", str(tmp_path / "after")) == 0
    before, after = _outputs(tmp_path / "before"), _outputs(tmp_path / "after")
    assert set(before) == set(after) and "report.html" in before and "findings.csv" in before
    for name in before:
        assert before[name] == after[name], name
    assert "much smaller than last time" not in after["report.html"]
    assert "not a date" in after["report.html"]  # the first night's own rejection example
    today = (tmp_path / "out" / "measures.csv").read_text(encoding="utf-8-sig")
    assert today != after["measures.csv"] and "cramps_cirrhosis,2026-06-30" in today  # June changed


def test_a_flag_standing_across_prunes_keeps_its_start_its_run_count_and_its_status(tmp_path, capsys):
    """Nights on 11-16..11-20 with the same export: the diuretic check's standing flags began on 11-16.
    A prune keeping one night used to restart them there ("new", flagged since the kept night's date,
    one run); the origin is kept (flag_origins), also across a second prune."""
    db = tmp_path / "audit.duckdb"
    args = ["-q", "run", "--exports", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--db", str(db)]
    args += ["--checks", CHECK, "--scheduled"]

    def night(day: int) -> list[dict]:
        assert cli(*args, env={"CLINIC_AUDIT_AS_OF": f"2026-11-{day}"}) == 0
        return read_csv_rows(tmp_path / "out" / f"worklist_{CHECK}.csv")

    def statuses(patients: set[str]) -> set[str]:
        """The latest run's status words of these patients' flags."""
        with duckdb.connect(str(db), read_only=True) as con:
            latest = "(SELECT arg_max(run_id, seq) FROM runs)"
            rows = con.execute(f"SELECT patient_id, status FROM flag_status WHERE run_id = {latest}")
            return {s for p, s in rows.fetchall() if p in patients}

    for day in (16, 17, 18):
        unpruned = night(day)
    standing = {r["patient_id"] for r in unpruned if r["flagged_since"] == "2026-11-16"}
    assert standing and {r["runs_flagged"] for r in unpruned if r["patient_id"] in standing} == {"3"}

    assert cli("prune", "--keep-runs", "1", "--db", str(db)) == 0
    assert statuses(standing) == {"persisting"}  # raised before the kept night, not by it
    rows = {r["patient_id"]: r for r in night(19)}
    standing &= set(rows)  # a result dated 11-19 resolves some
    assert len(standing) > 10
    assert {rows[p]["flagged_since"] for p in standing} == {"2026-11-16"}
    assert {rows[p]["runs_flagged"] for p in standing} == {"4"}
    assert {rows[p]["days_flagged"] for p in standing} == {"3"}

    assert cli("prune", "--keep-runs", "1", "--db", str(db)) == 0  # the origin moves to the kept night
    rows = {r["patient_id"]: r for r in night(20)}
    standing &= set(rows)
    assert len(standing) > 10
    assert {(rows[p]["flagged_since"], rows[p]["runs_flagged"]) for p in standing} == {("2026-11-16", "5")}
    assert statuses(standing) == {"persisting"}
    capsys.readouterr()


def test_a_kept_runs_measures_survive_a_prune_of_the_run_that_evaluated_them(tmp_path):
    """Night 1 evaluates 24 months, night 2 reuses them, night 3 evaluates October again (a late
    result). After `prune --keep-runs 2`, night 2's own figures (measures_of, what its re-rendered
    report shows) still have all 24 months: night 1's October is what night 2 saw."""
    import shutil

    from tests.helpers import night

    first = tmp_path / "e1"
    shutil.copytree(SAMPLE_EXPORT, first)
    late = tmp_path / "e3"
    shutil.copytree(SAMPLE_EXPORT, late)
    with (late / "labs.csv").open("a", encoding="utf-8") as handle:
        handle.write("P0026,2026-10-05T09:00:00,2823-3,,4.2,mmol/L\n")
    for as_of, export in (("2026-11-20", first), ("2026-11-21", first), ("2026-11-22", late)):
        night(tmp_path, as_of, export)
    db = tmp_path / "audit.duckdb"
    months = (
        "SELECT count(DISTINCT month_end) FROM measures_of((SELECT run_id FROM runs WHERE seq = 2)) "
        "WHERE check_id = 'diuretic_electrolyte_monitoring' AND breakdown = 'total'"
    )
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(months).fetchall() == [(24,)]
    assert cli("prune", "--keep-runs", "2", "--db", str(db)) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(months).fetchall() == [(24,)]
