"""A review re-opens when the clinical facts behind a flag change, never because time passed
(#20 review 5), and a test done elsewhere too long ago is refused (#20 review 11).

N started a diuretic on 2026-10-25 and has no monitoring: night 1 says 'baseline tests due', the
later nights 'overdue' (the 14-day baseline window has passed). I is on insulin with a potassium
result on 2026-08-05 and a low one on 2026-10-20: on 2026-11-05 the 90-day window slides past the
August result (potassium_results loses it). Both carry a palliative exception recorded after night 1;
on unchanged data it keeps applying; a new prescription (a second diuretic for N, a diuretic for I)
re-opens both.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.errors import EXIT_CONFIG
from tests.helpers import night, review, table, write_export

DIURETIC, INSULIN = "diuretic_electrolyte_monitoring", "insulin_potassium_drop"

PATIENTS = table("""
patient_id | birth_date | sex
N          | 1952-04-11 | F
I          | 1960-09-02 | M
""")

PRESCRIPTIONS = table("""
patient_id | drug_name                       | rxnorm_code | atc_code | start_date | end_date | days_supply
N          | furosemide 40 mg tablet         | 4603        | C03CA01  | 2026-10-25 |          |
I          | insulin glargine 100 units/mL   | 274783      | A10AE04  | 2026-08-01 |          |
""")

LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name | unit
I          | 2026-08-05T09:00:00 | 4.6   | 2823-3     | Potassium | mmol/L
I          | 2026-10-20T09:00:00 | 3.3   | 2823-3     | Potassium | mmol/L
""")

NEW_PRESCRIPTIONS = table("""
patient_id | drug_name                  | rxnorm_code | atc_code | start_date | end_date | days_supply
N          | spironolactone 25 mg       | 9997        | C03DA01  | 2026-11-26 |          |
I          | bendroflumethiazide 2.5 mg |             | C03AA01  | 2026-11-26 |          |
""")


def latest(tmp: Path) -> dict[tuple[str, str], tuple[str, dict]]:
    """The latest run's reviewed flags: (check, patient) -> (state, evidence)."""
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT o.check_id, o.patient_id, o.state, f.evidence FROM review_outcomes o "
            "JOIN findings f USING (run_id, check_id, patient_id) "
            "WHERE o.run_id = (SELECT arg_max(run_id, seq) FROM runs)"
        ).fetchall()
    return {(c, p): (state, json.loads(evidence)) for c, p, state, evidence in rows}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("facts")
    export = write_export(tmp / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS, labs=LABS)
    night(tmp, "2026-11-01", export)
    for patient, check in (("N", DIURETIC), ("I", INSULIN)):
        assert review(tmp, patient, "--check", check, "--status", "exception", "--reason", "palliative") == 0
    seen = {}
    for as_of in ("2026-11-02", "2026-11-05", "2026-11-25"):
        night(tmp, as_of, export)
        seen[as_of] = latest(tmp)
    changed = write_export(
        tmp / "export2", patients=PATIENTS, prescriptions=PRESCRIPTIONS + NEW_PRESCRIPTIONS, labs=LABS
    )
    night(tmp, "2026-11-27", changed)
    seen["new prescription"] = latest(tmp)
    seen["tmp"] = tmp
    return seen


def test_time_passing_alone_keeps_the_review_applying(nights):
    for as_of in ("2026-11-02", "2026-11-05", "2026-11-25"):
        assert {k: state for k, (state, _) in nights[as_of].items()} == {
            (DIURETIC, "N"): "applies",
            (INSULIN, "I"): "applies",
        }, as_of


def test_the_nights_did_change_status_words_and_window_lists(nights):
    """The evidence the old whole-evidence fingerprint would have re-opened on really moved."""
    assert nights["2026-11-02"][(DIURETIC, "N")][1]["monitoring"] == "baseline tests due"
    assert nights["2026-11-25"][(DIURETIC, "N")][1]["monitoring"] == "overdue"
    before = nights["2026-11-02"][(INSULIN, "I")][1]["potassium_results"]
    after = nights["2026-11-05"][(INSULIN, "I")][1]["potassium_results"]
    assert before != after and "4.6" in str(before) and "4.6" not in str(after)


def test_a_new_prescription_reopens_both(nights):
    states = {k: state for k, (state, _) in nights["new prescription"].items()}
    assert states == {(DIURETIC, "N"): "re-opened", (INSULIN, "I"): "re-opened"}


def test_done_elsewhere_already_due_again_is_refused(tmp_path, capsys):
    export = write_export(tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS, labs=LABS)
    night(tmp_path, "2026-11-01", export)
    args = ["N", "--check", DIURETIC, "--status", "exception", "--reason", "done_elsewhere"]
    capsys.readouterr()
    assert (
        review(tmp_path, *args, "--done-on", "2025-10-01", "--note", "U&E at the renal clinic") == EXIT_CONFIG
    )
    err = capsys.readouterr().err
    assert (
        "column done_on: the test fell due again (365 days on: the check's lookback) before the flag's "
        "as-of date 2026-11-01" in err
    )
    assert "2025-10-01" not in err and "2026-10-01" not in err  # the patient's dates are not repeated
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchall()[0][0] == 0
    # a recent one is recorded, and an explicit --until still excepts an old one
    assert review(tmp_path, *args, "--done-on", "2026-10-01", "--note", "U&E at the renal clinic") == 0
    assert review(tmp_path, "N", "--check", DIURETIC, "--status", "exception", "--reason", "done_elsewhere",
                  "--done-on", "2025-10-01", "--until", "2026-12-01", "--note", "x") == 0  # fmt: skip


def test_the_report_counts_high_priority_after_exceptions_and_a_first_run_as_new(nights):
    """#20 review 7 and 13: the at-a-glance row agrees with the headline (no patient needs action
    once both flags are excepted), and the first night calls its flags new."""
    first = (nights["tmp"] / "out-2026-11-01" / "report.html").read_text(encoding="utf-8")
    assert "1 (first run)" in first
    excepted = (nights["tmp"] / "out-2026-11-02" / "report.html").read_text(encoding="utf-8")
    assert '0<br><span class="note" title="high priority before exceptions">(1 before)</span>' in excepted
    email = (nights["tmp"] / "out-2026-11-02" / "email.html").read_text(encoding="utf-8")
    assert "No patient needs action tonight" in email


CHANGING = {
    "prescriptions": table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
B          | furosemide 40 mg tablet | 4603        | C03CA01  | 2026-01-01 |          |
"""),
    "diagnoses": table("""
patient_id | code   | code_system | recorded_at | resolved_at
A          | K74.60 | ICD-10-CM   | 2022-01-01  |
A          | R25.2  | ICD-10-CM   | 2026-10-01  |
B          | R25.2  | ICD-10-CM   | 2026-10-01  |
C          | G62.9  | ICD-10-CM   | 2026-10-01  |
"""),
    "labs": table("""
patient_id | collected_at | loinc_code | test_name | value | unit
A          | 2026-10-02   | 2823-3     | Potassium | 4.1   | mmol/L
A          | 2026-10-02   | 2951-2     | Sodium    | 139   | mmol/L
A          | 2026-10-02   | 2601-3     | Magnesium | 0.85  | mmol/L
"""),
}
# What the third night brings: A a low potassium (the cirrhosis flag turns high), B a second cramp
# (the medication review turns high), C a glucose result (B12 is still missing).
NEW_FACTS = {
    "diagnoses": table("""
patient_id | code  | code_system | recorded_at | resolved_at
B          | R25.2 | ICD-10-CM   | 2026-11-15  |
"""),
    "labs": table("""
patient_id | collected_at | loinc_code | test_name | value | unit
A          | 2026-11-16   | 2823-3     | Potassium | 2.9   | mmol/L
C          | 2026-11-16   | 2345-7     | Glucose   | 95    | mg/dL
"""),
}
REVIEWED = {
    ("cramps_cirrhosis", "A"),
    ("cramps_electrolyte_check", "B"),
    ("cramps_medication_review", "B"),
    ("cramps_metabolic_workup", "B"),
    ("numbness_neuropathy_workup", "C"),
}


def test_a_new_cramp_or_a_new_result_reopens_an_exception_in_every_cramp_and_numbness_check(tmp_path):
    """Each of these checks' flags rests on cramp dates or results, not only on codes: an exception
    recorded on them keeps applying while nothing changes, and re-opens with the new fact."""
    export = write_export(tmp_path / "export", **CHANGING)
    night(tmp_path, "2026-11-01", export)
    exception = ("--status", "exception", "--reason", "palliative")
    for check, patient in sorted(REVIEWED):
        assert review(tmp_path, patient, "--check", check, *exception) == 0
    night(tmp_path, "2026-11-05", export)
    assert {k: state for k, (state, _) in latest(tmp_path).items() if k in REVIEWED} == dict.fromkeys(
        REVIEWED, "applies"
    )
    grown = {name: rows + NEW_FACTS.get(name, []) for name, rows in CHANGING.items()}
    night(tmp_path, "2026-11-20", write_export(tmp_path / "export2", **grown))
    assert {k: state for k, (state, _) in latest(tmp_path).items() if k in REVIEWED} == dict.fromkeys(
        REVIEWED, "re-opened"
    )
