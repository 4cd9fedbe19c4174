"""Real exports the tool has never seen, through the real CLI at default settings (reject_threshold 5%).

The fixtures under tests/fixtures/real/<format>/ are rows copied verbatim from openly licensed
public sample exports (each folder's README.md names the repository, path, commit, licence and what
was trimmed): Synthea CSV output (synthetichealth/synthea, Apache-2.0) and a Synthea-generated FHIR
R4 bulk export (smart-on-fhir/sample-bulk-fhir-datasets, data CC0). Nothing in them was edited, so
each test states what a standard export of that format must give: every row accounted for, rows
that are not labs skipped (not rejected), no valid row rejected, deaths known, lab codes mapped.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.helpers import cli, run_args

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"

# Per format: (rows read, rows skipped) per contract table, the skip reasons of the labs file.
EXPECTED = {
    "synthea": {
        "counts": {"patients": (6, 0), "labs": (44, 20), "prescriptions": (10, 0), "diagnoses": (10, 0)},
        "skipped": {
            "not a laboratory observation (quality-of-life index)": 6,
            "not a laboratory observation (survey)": 5,
            "not a laboratory observation (vital-signs)": 5,
            "not a laboratory observation (social-history)": 3,
            "not a laboratory observation (procedure)": 1,
        },
        "deaths": {
            "4491801b-0532-adef-781c-07640bfe6f17": date(1985, 4, 11),
            "1556075e-b9ed-5765-b46a-454382dc1c0b": date(1990, 9, 29),
        },
    },
    "fhir": {
        "counts": {"patients": (3, 0), "labs": (13, 6), "prescriptions": (4, 0), "diagnoses": (4, 0)},
        "skipped": {
            "not a laboratory observation (vital-signs)": 3,
            "not a laboratory observation (survey)": 2,
            "not a laboratory observation (social-history)": 1,
        },
        # deceasedDateTime 2009-02-06T12:45:24-03:00: its local date
        "deaths": {"da73946b-70a8-ae1a-ca15-b83201e441dd": date(2009, 2, 6)},
    },
}
# The electrolyte, kidney and glucose codes Synthea writes (blood, not serum/plasma), by analyte.
ANALYTES = {"6298-4": "potassium", "2947-0": "sodium", "38483-4": "creatinine", "2339-0": "glucose"}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def run(request, tmp_path_factory):
    """One default-settings run per real export: (format, tmp folder, summary.json)."""
    tmp = tmp_path_factory.mktemp(request.param)
    code = cli(*run_args(tmp, REAL / request.param))
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    assert code == 0, summary.get("message")
    return request.param, tmp, summary


def query(tmp: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_row_is_accounted_for_and_none_is_rejected(run):
    fmt, _, summary = run
    files = summary["files"]
    assert summary["status"] == "succeeded"
    assert set(files) == set(EXPECTED[fmt]["counts"])
    for table, (read, skipped) in EXPECTED[fmt]["counts"].items():
        f = files[table]
        assert (
            f["rows_read"] == f["rows_loaded"] + f["rows_duplicate"] + f["rows_rejected"] + f["rows_skipped"]
        )
        assert (f["rows_read"], f["rows_skipped"]) == (read, skipped), table
        assert (f["rows_rejected"], f["rows_duplicate"], f["top_rejection_reasons"]) == (0, 0, []), table
        assert f["rows_loaded"] == read - skipped


def test_rows_that_are_not_labs_are_skipped_with_their_reason(run):
    fmt, tmp, summary = run
    assert summary["files"]["labs"]["skip_reasons"] == EXPECTED[fmt]["skipped"]
    codes = {r[0] for r in query(tmp, "SELECT loinc_code FROM lab_results")}
    # vital signs, surveys, smoking status and Synthea's quality-of-life indices never reach the labs
    assert not codes & {"8302-2", "72514-3", "85354-9", "72166-2", "59460-6", "QALY", "DALY", "QOLS"}


def test_deceased_patients_are_known(run):
    fmt, tmp, _ = run
    dead = query(tmp, "SELECT patient_id, death_date FROM patient_state WHERE deceased")
    alive = query(tmp, "SELECT count(*) FROM patient_state WHERE NOT deceased AND death_date IS NULL")
    assert dict(dead) == EXPECTED[fmt]["deaths"]
    assert alive[0][0] == EXPECTED[fmt]["counts"]["patients"][0] - len(dead)


def test_real_lab_codes_map_to_analytes_in_canonical_units(run):
    _, tmp, _ = run
    rows = query(tmp, "SELECT loinc_code, analyte, unit, value, value_original, unit_original FROM labs")
    mapped = {code: analyte for code, analyte, *_ in rows if code in ANALYTES}
    assert mapped == ANALYTES
    for _code, analyte, unit, value, original, original_unit in rows:
        if analyte in ("potassium", "sodium"):
            assert (unit, value, original_unit) == ("mmol/L", original, "mmol/L")
        if analyte == "creatinine":  # Synthea writes mg/dL; µmol/L is reported to the whole number
            assert (unit, original_unit) == ("umol/L", "mg/dL") and value == round(original * 88.42)


def test_text_results_load_without_a_numeric_value(run):
    fmt, tmp, _ = run
    text = {r[0] for r in query(tmp, "SELECT loinc_code FROM lab_results WHERE value_original IS NULL")}
    # Synthea TYPE=text ('Negative (qualifier value)'); FHIR valueCodeableConcept ('Positive ...')
    assert text == ({"92142-9", "94531-1"} if fmt == "synthea" else {"88262-1"})


def test_prescription_ends(run):
    fmt, tmp, _ = run
    ends = dict(query(tmp, "SELECT drug_name, end_date FROM prescriptions"))
    if fmt == "synthea":
        # STOP kept; an empty STOP is ongoing (a dead patient's is closed by death downstream)
        # unless its DISPENSES lapsed long ago: then it ends after them, at a month each. Astemizole
        # filled 559 times since 1977 runs; clonazepam's 6 refills of 1984, the alteplase injection
        # of a 1990 stroke (1) and a 2014 sprain's hydrocodone (3) were not taken in 2026
        assert ends["lisinopril 10 MG Oral Tablet"] == date(2013, 6, 9)
        assert ends["Astemizole 10 MG Oral Tablet"] is None
        assert ends["clonazePAM 0.25 MG Oral Tablet"] == date(1985, 4, 1)
        assert ends["Alteplase 100 MG Injection"] == date(1990, 10, 16)
        assert ends["Acetaminophen 300 MG / Hydrocodone Bitartrate 5 MG Oral Tablet"] == date(2014, 6, 20)
    else:
        # Synthea's FHIR requests carry only authoredOn: a completed one ended (at its start, with no
        # meta.lastUpdated), an active one is ongoing. The ibuprofen is "Take as needed."
        # (asNeededBoolean), and named so; the others' asNeededBoolean false leaves them as they are.
        assert ends["Ibuprofen 400 MG Oral Tablet [Ibu] (as needed)"] == date(2020, 3, 20)
        assert ends["amLODIPine 2.5 MG Oral Tablet"] is None


@pytest.mark.parametrize("run", ["fhir"], indirect=True)
def test_a_completed_fhir_request_is_not_a_current_drug(run):
    """Ibuprofen requested in 2020, status completed: no NSAID the patient is on at the as-of date.

    Read as ongoing (before the FHIR profile ended completed requests), it put her in the NSAID
    with kidney disease population.
    """
    _, _, summary = run
    assert summary["checks"]["nsaid_kidney_disease"]["denominator"] == 0


def test_synthea_v2_rows_are_skipped_by_their_code_as_v3_by_category(tmp_path):
    """The same real observations with the CATEGORY column removed, as Synthea v2 writes them: each
    non-lab row is skipped for the category its LOINC code has, so the counts equal v3's."""
    import csv
    import shutil

    export = tmp_path / "v2"
    shutil.copytree(REAL / "synthea", export)
    with (REAL / "synthea" / "observations.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (export / "observations.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, [c for c in rows[0] if c != "CATEGORY"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k != "CATEGORY"} for row in rows)
    assert cli(*run_args(tmp_path, export)) == 0
    labs = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["files"]["labs"]
    assert labs["skip_reasons"] == EXPECTED["synthea"]["skipped"]
    assert labs["rows_rejected"] == 0
