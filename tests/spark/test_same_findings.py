"""The sample clinic on DuckDB and on Spark: identical findings, counts and left-out patients.

Every registered check is evaluated on Spark here, so a check whose SQL does not translate (or
translates to something Spark reads differently) fails this test, not a clinic's run.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks
from pipelines.run import execute_run
from pipelines.settings import Settings
from tests.conftest import SAMPLE_EXPORT
from tests.functional import test_format_fhir as fhir
from tests.functional import test_format_mimic as mimic
from tests.functional.test_format_mimic import write_mimic
from tests.functional.test_format_omop import write_cdm

pytestmark = pytest.mark.longest  # minutes each on Spark: started first (tests/conftest.py)

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 24, 3, 0)


def _run(
    tmp: Path, engine: str, as_of: date | str = AS_OF, export: Path = SAMPLE_EXPORT, **more: object
) -> Path:
    settings = Settings(
        exports=export,
        out=tmp / engine / "out",
        db=tmp / engine / "audit.duckdb",
        as_of=as_of,
        engine=engine,
        measures_months=0,
        **more,
    )
    assert execute_run(settings, NOW).status == "succeeded"
    return settings.db


def _record(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "findings": con.execute(
                "SELECT check_id, patient_id, priority, reason, evidence::VARCHAR FROM findings ORDER BY ALL"
            ).fetchall(),
            "check_results": con.execute(
                "SELECT check_id, denominator, flagged, high_priority, deceased_excluded, "
                "deregistered_excluded, parameters FROM check_results ORDER BY ALL"
            ).fetchall(),
            "exclusions": con.execute(
                "SELECT * EXCLUDE (run_id) FROM check_exclusions ORDER BY ALL"
            ).fetchall(),
        }
    finally:
        con.close()


def test_sample_clinic_gives_identical_findings_on_both_engines(tmp_path: Path, spark_session) -> None:
    """With adaptive execution on, as a cluster runs (a local master's default is off; the other
    comparisons run so): the findings must not depend on it. (tests/functional/test_generated_clinics.py
    holds DuckDB to the generator's oracle on clinics drawn from other seeds.)"""
    left = tmp_path / "spark" / ".audit.duckdb.spark-k1ll3d_x"  # what a killed run left behind
    left.mkdir(parents=True)
    (left / "labs.parquet").write_bytes(b"patient data")
    before = spark_session.conf.get("spark.sql.adaptive.enabled")
    spark_session.conf.set("spark.sql.adaptive.enabled", "true")
    try:
        spark_db = _run(tmp_path, "spark")
        assert spark_session.conf.get("spark.sql.adaptive.enabled") == "true"  # the run kept it
    finally:
        spark_session.conf.set("spark.sql.adaptive.enabled", before)
    # the data went to Spark as Parquet files beside the database (a local master), removed after,
    # with the killed run's copy
    assert not list(spark_db.parent.glob(f".{spark_db.name}.spark-*"))
    on_duckdb, on_spark = _record(_run(tmp_path, "duckdb")), _record(spark_db)
    assert {row[0] for row in on_spark["check_results"]} == {c.id for c in all_checks()}
    assert on_duckdb["findings"], "the sample clinic flags patients (else this compares nothing)"
    for part in ("check_results", "exclusions", "findings"):
        only_duckdb = sorted(set(on_duckdb[part]) - set(on_spark[part]))[:3]
        only_spark = sorted(set(on_spark[part]) - set(on_duckdb[part]))[:3]
        assert on_duckdb[part] == on_spark[part], (
            f"{part}: DuckDB only {only_duckdb}; Spark only {only_spark}"
        )


# Each standard format's fixture export, and the date it is audited as of. MIMIC-IV's dates are
# shifted, each patient's by their own years: each patient is audited as of their own last record, as
# research data is (README), and the moved dates must reach Spark as DuckDB's checks read them.
FORMATS = {
    "omop": (write_cdm, AS_OF),  # as tests/functional/test_format_omop.py runs it (helpers.run_args)
    "mimic": (write_mimic, "per-patient"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_omop_and_mimic_exports_give_identical_findings_on_both_engines(
    tmp_path: Path, spark_session, name: str
) -> None:
    """A standard export reaches Spark as DuckDB staged it: what the profile read (an OMOP concept's
    codes and source values, a MIMIC order ended at its discharge, ICD-9 and ICD-10 diagnoses, each
    MIMIC patient's dates moved onto the as-of date). The OMOP fixture has rows the rules reject
    (kept below the threshold)."""
    write, as_of = FORMATS[name]
    export = write(tmp_path / "export")
    on_duckdb = _record(_run(tmp_path, "duckdb", as_of, export, reject_threshold=1.0))
    on_spark = _record(_run(tmp_path, "spark", as_of, export, reject_threshold=1.0))
    assert on_duckdb["findings"], f"the {name} fixture flags patients (else this compares nothing)"
    if as_of == "per-patient":  # the dates moved: not what the calendar date finds
        calendar = _run(
            tmp_path / "calendar", "duckdb", date.fromisoformat(mimic.AS_OF), export, reject_threshold=1.0
        )
        assert on_duckdb["findings"] != _record(calendar)["findings"]
    for part in ("check_results", "exclusions", "findings"):
        assert on_spark[part] == on_duckdb[part], part


def _fhir_second_night() -> dict[str, list[dict]]:
    """The FHIR fixture as a later export states it: p3's potassium corrected under its id (its
    first version superseded), p4's cirrhosis entered in error (withdrawn), p1 dead, p2's record
    no longer in use, and p6, linked replaced-by p3 but left active by the server, with a request
    of its own (a record in use: audited on its own, README, FHIR)."""
    night = dict(fhir.RESOURCES)
    patients = {p["id"]: dict(p) for p in fhir.RESOURCES["1.Patient.ndjson.gz"]}
    patients["p1"]["deceasedDateTime"] = "2026-11-01"
    patients["p2"]["active"] = False
    merged = fhir.patient("p6", "1956-03-06", "female") | {
        "link": [{"other": {"reference": "Patient/p3"}, "type": "replaced-by"}]
    }
    night["1.Patient.ndjson.gz"] = [*patients.values(), merged]
    night["Observation.000.ndjson.gz"] = [
        dict(o, valueQuantity={"value": 3.1, "unit": "mmol/L"}) if o["id"] == "o3" else o
        for o in fhir.RESOURCES["Observation.000.ndjson.gz"]
    ]
    withdrawn = fhir.concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "entered-in-error")
    night["Condition.ndjson.gz"] = [
        dict(c, verificationStatus=withdrawn) if c["id"] == "c3" else c
        for c in fhir.RESOURCES["Condition.ndjson.gz"]
    ]
    request = fhir.RESOURCES["MedicationRequest.ndjson.gz"][0]
    night["MedicationRequest.ndjson.gz"] = [
        *fhir.RESOURCES["MedicationRequest.ndjson.gz"],
        dict(request, id="mp6", subject={"reference": "Patient/p6"}),
    ]
    return night


def test_fhir_nights_give_identical_findings_on_both_engines(tmp_path: Path, spark_session) -> None:
    """Two FHIR nights: what the second made current (a corrected result, a withdrawn condition, a
    death, a record out of use) reaches Spark as DuckDB's checks read it. The first night of both
    databases runs its checks on DuckDB (the engine only evaluates the checks; DuckDB loads either
    way), as a network moving to Spark would: only the second night's checks are compared."""
    first = fhir.write_fhir(tmp_path / "night1")
    second = fhir.write_fhir(tmp_path / "night2", _fhir_second_night())
    as_of = date.fromisoformat(fhir.AS_OF)
    night1 = _run(tmp_path / "night1", "duckdb", as_of - timedelta(days=1), first, reject_threshold=1.0)
    records = {}
    for engine in ("duckdb", "spark"):
        (tmp_path / engine).mkdir()
        shutil.copyfile(night1, tmp_path / engine / "audit.duckdb")  # one first night, closed: no WAL
        records[engine] = _record(_run(tmp_path, engine, as_of, second, reject_threshold=1.0))
    with duckdb.connect(str(tmp_path / "duckdb" / "audit.duckdb"), read_only=True) as con:
        superseded = con.execute(
            "SELECT (SELECT count(*) FROM lab_results WHERE _superseded), "
            "(SELECT count(*) FROM diagnoses WHERE _superseded)"
        ).fetchone()
    assert superseded == (1, 1), "the corrected result and the withdrawn condition"
    assert {reason for _, _, reason, *_ in records["duckdb"]["exclusions"]} == {"deceased", "deregistered"}
    assert records["duckdb"]["findings"]
    for part in ("check_results", "exclusions", "findings"):
        assert records["spark"][part] == records["duckdb"][part], part
