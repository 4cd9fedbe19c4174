"""The sample clinic on DuckDB and on Spark: identical findings, counts and left-out patients.

Every registered check is evaluated on Spark here, so a check whose SQL does not translate (or
translates to something Spark reads differently) fails this test, not a clinic's run.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import all_checks
from pipelines.run import execute_run
from pipelines.settings import Settings
from tests.conftest import SAMPLE_EXPORT
from tests.functional.test_format_fhir import write_fhir
from tests.functional.test_format_mimic import write_mimic
from tests.functional.test_format_omop import write_cdm
from tests.helpers import generated_clinic

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
                "SELECT check_id, denominator, flagged, high_priority, deceased_excluded, parameters "
                "FROM check_results ORDER BY ALL"
            ).fetchall(),
            "exclusions": con.execute(
                "SELECT * EXCLUDE (run_id) FROM check_exclusions ORDER BY ALL"
            ).fetchall(),
        }
    finally:
        con.close()


def test_sample_clinic_gives_identical_findings_on_both_engines(tmp_path: Path, spark_session) -> None:
    left = tmp_path / "spark" / ".audit.duckdb.spark-killed"  # what a killed run left behind
    left.mkdir(parents=True)
    (left / "labs.parquet").write_bytes(b"patient data")
    spark_db = _run(tmp_path, "spark")
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


def test_as_of_per_patient_gives_identical_findings_on_both_engines(tmp_path: Path, spark_session) -> None:
    """Each patient audited as of their own last record (date-shifted research data, MIMIC-IV): the
    moved dates reach Spark as DuckDB's checks read them."""
    on_duckdb = _record(_run(tmp_path, "duckdb", "per-patient"))
    on_spark = _record(_run(tmp_path, "spark", "per-patient"))
    assert on_duckdb["findings"]
    assert on_duckdb["findings"] != _record(_run(tmp_path / "calendar", "duckdb"))["findings"]  # dates moved
    for part in ("check_results", "exclusions", "findings"):
        assert on_spark[part] == on_duckdb[part], part


# Each standard format's fixture export, and the date it is audited as of (MIMIC-IV's dates are shifted)
FORMATS = {
    "omop": (write_cdm, AS_OF),
    "mimic": (write_mimic, date(2180, 6, 1)),
    "fhir": (write_fhir, AS_OF),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_standard_format_gives_identical_findings_on_both_engines(
    tmp_path: Path, spark_session, name: str
) -> None:
    """A standard export reaches Spark as DuckDB staged it: what the profile read (an OMOP concept's
    codes, a MIMIC order's discharge end, a FHIR Condition's codings and statuses) and what the
    load made current (named facts, superseded versions). Each fixture has rows the rules reject
    (kept below the threshold)."""
    write, as_of = FORMATS[name]
    export = write(tmp_path / "export")
    on_duckdb = _record(_run(tmp_path, "duckdb", as_of, export, reject_threshold=1.0))
    on_spark = _record(_run(tmp_path, "spark", as_of, export, reject_threshold=1.0))
    assert on_duckdb["findings"], f"the {name} fixture flags patients (else this compares nothing)"
    for part in ("check_results", "exclusions", "findings"):
        assert on_spark[part] == on_duckdb[part], part


def test_a_clinic_drawn_from_another_seed_gives_identical_findings_on_both_engines(
    tmp_path: Path, spark_session
) -> None:
    """Another draw of the sample generator puts every scenario's dates, values and codes somewhere
    new (tests/functional/test_generated_clinics.py holds DuckDB to the generator's oracle there).
    With adaptive execution on, as a cluster runs (a local master's default is off; the other
    comparisons run so): the findings must not depend on it."""
    export = generated_clinic(tmp_path / "clinic", seed=7)
    on_duckdb = _record(_run(tmp_path, "duckdb", export=export))
    before = spark_session.conf.get("spark.sql.adaptive.enabled")
    spark_session.conf.set("spark.sql.adaptive.enabled", "true")
    try:
        on_spark = _record(_run(tmp_path, "spark", export=export))
        assert spark_session.conf.get("spark.sql.adaptive.enabled") == "true"  # the run kept it
    finally:
        spark_session.conf.set("spark.sql.adaptive.enabled", before)
    assert on_duckdb["findings"]
    for part in ("check_results", "exclusions", "findings"):
        assert on_spark[part] == on_duckdb[part], part
