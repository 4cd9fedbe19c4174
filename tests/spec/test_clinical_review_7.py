"""Spec: a clinical red-team review (2026-12, seventh) across the checks, on generic exports written
as GP and hospital systems write them: each case a clinician would object to, fixed (each failed
before its fix), beside controls that already held. As of 2026-11-20."""

from __future__ import annotations

from datetime import date

import duckdb

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)

# ---------------------------------------------------------------------------------------------
# A prescription the export marks stopped, with neither an end date nor a days supply: a GP system's
# "discontinued" flag often comes without its date. It was read as open-ended (ongoing for ever),
# so a diuretic stopped years ago asked for monitoring. Its exposure now ends on its start date,
# as the FHIR profile ends a stopped request with no end (noted in row_notes).
# ---------------------------------------------------------------------------------------------
STOPPED_WITHOUT_END = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply | stopped
T01        | Furosemide 40mg tablets |             |          | 2023-01-01 |          |             | yes
# controls: stopped with a supply (ended at the supply, already out); not said (ongoing: overdue)
T02        | Furosemide 40mg tablets |             |          | 2023-01-01 |          | 28          | yes
T03        | Furosemide 40mg tablets |             |          | 2023-01-01 |          |             |
# stopped this week with no date: its start was 2026-11-16, so it counts as taken on that day only
T04        | Furosemide 40mg tablets |             |          | 2026-11-16 |          |             | yes
""")


def test_a_stopped_prescription_with_no_end_is_not_taken_for_ever(tmp_path):
    run = check_spec(
        tmp_path,
        "diuretic_electrolyte_monitoring",
        AS_OF,
        {"prescriptions": STOPPED_WITHOUT_END},
        {"T01": OUT, "T02": OUT, "T03": "high", "T04": OUT},
    )
    with duckdb.connect(str(run.db), read_only=True) as con:
        notes = con.execute("SELECT original FROM row_notes WHERE rule = 'without_end'").fetchall()
    assert [n[0].split(",")[0] for n in notes] == ["T01", "T04"]
