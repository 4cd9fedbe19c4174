"""A patient id is what joins a patient's files: padding no eye sees at either end of it (a tab from
an Excel cell, a byte-order mark where two files were joined, a zero-width space) is not part of it.
Read as part of it, 'P1<TAB>' was another patient: audited alone (flagged), while the real one's
death, age and other records were not applied to those rows."""

from __future__ import annotations

from tests.helpers import cli, flagged, query, run_args, write_export


def test_an_id_padded_with_invisible_characters_is_the_patient(tmp_path):
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex,death_date\nP1,1940-01-01,F,2026-09-01\nP2,1940-01-01,M,\n",
        prescriptions=(
            "patient_id,drug_name,start_date\n"
            "P1\t,furosemide 40 mg tablet,2026-06-01\n"
            "\ufeffP2,furosemide 40 mg tablet,2026-06-01\n"
            "P2\u200b,bendroflumethiazide 2.5 mg tablet,2026-06-01\n"
        ),
        labs="patient_id,collected_at,loinc_code,test_name,value,unit\nP1\t,2026-10-01,2823-3,Potassium,4.1,mmol/L\n",
    )
    assert cli(*run_args(tmp_path, export)) == 0
    db = tmp_path / "audit.duckdb"
    stored = query(db, "SELECT patient_id FROM prescriptions UNION SELECT patient_id FROM labs")
    ids = {pid for (pid,) in stored}
    assert ids == {"P1", "P2"}
    # P1 died before the as-of date: out of every check; P2 is flagged once, as one patient
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"P2"}
