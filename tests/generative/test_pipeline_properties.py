"""Hypothesis: arbitrary (often invalid) exports go through ingest and checks without crashing,
every row is accounted for, flagged ids exist in the input, and the same input gives the same output."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers import findings, run_pipeline

ids = st.sampled_from(["P1", "P2", "P3", "", " P4 "])
dates = st.one_of(
    st.dates(date(1890, 1, 1), date(2030, 12, 31)).map(str),
    st.sampled_from(["", "2026-02-30", "not a date", "2026-11-20T08:00:00", "2025-11-20"]),
)
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=12
)

labs = st.lists(
    st.fixed_dictionaries(
        {
            "patient_id": ids,
            "collected_at": dates,
            "loinc_code": st.sampled_from(["2823-3", "2951-2", "2823-4", "", "19123-9", "abc"]),
            "test_name": st.one_of(st.sampled_from(["Potassium", "Sodium", "", "Urine potassium"]), text),
            "value": st.one_of(st.floats(-5, 300, allow_nan=False).map(lambda v: f"{v:.2f}"), text),
            "unit": st.sampled_from(["mmol/L", "mEq/L", "mg/dL", "", "furlongs"]),
        }
    ),
    max_size=12,
)
prescriptions = st.lists(
    st.fixed_dictionaries(
        {
            "patient_id": ids,
            "drug_name": st.one_of(st.sampled_from(["furosemide 40 mg", "Lasix", "", "=cmd()"]), text),
            "rxnorm_code": st.sampled_from(["4603", "", "x1"]),
            "atc_code": st.sampled_from(["C03CA01", "C09BA03", "", "c03"]),
            "start_date": dates,
            "end_date": st.one_of(st.just(""), dates),
            "days_supply": st.sampled_from(["", "30", "-5", "0", "2.5", "99999999999"]),
        }
    ),
    max_size=8,
)
diagnoses = st.lists(
    st.fixed_dictionaries(
        {
            "patient_id": ids,
            "code": st.sampled_from(["K70.30", "K7031", "R25.2", "571.5", "729.82", "19943007", "XYZ", ""]),
            "code_system": st.sampled_from(["ICD-10-CM", "ICD-9-CM", "SNOMED-CT", "icd10", "", "READ"]),
            "recorded_at": dates,
            "resolved_at": st.one_of(st.just(""), dates),
        }
    ),
    max_size=8,
)


@pytest.mark.longest
# 12 draws, each two whole runs: half the 340 s that 25 took of the test command
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labs=labs, prescriptions=prescriptions, diagnoses=diagnoses)
# a row of empty fields (a spreadsheet's rows after the data) is skipped, and counted so
@example(
    labs=[],
    prescriptions=[],
    diagnoses=[dict.fromkeys(("patient_id", "code", "code_system", "recorded_at"), "")],
)
def test_any_export_is_accounted_for_and_deterministic(tmp_path_factory, labs, prescriptions, diagnoses):
    results = []
    for attempt in range(2):
        tmp = tmp_path_factory.mktemp(f"gen{attempt}")
        outcome = run_pipeline(
            tmp, date(2026, 11, 20), labs=labs, prescriptions=prescriptions, diagnoses=diagnoses
        )
        for f in outcome.files:
            assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_rejected + f.rows_skipped
            assert min(f.rows_loaded, f.rows_duplicate, f.rows_rejected, f.rows_skipped) >= 0
            assert f.rows_read == len(
                {"labs": labs, "prescriptions": prescriptions, "diagnoses": diagnoses}[f.table]
            )
        flagged = findings(tmp / "audit.duckdb")
        input_ids = {r["patient_id"].strip() for r in labs + prescriptions + diagnoses}
        assert {f["patient_id"] for f in flagged} <= input_ids
        results.append(sorted((f["check_id"], f["patient_id"], f["reason"], f["evidence"]) for f in flagged))
    assert results[0] == results[1]
