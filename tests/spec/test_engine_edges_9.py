"""Spec: red-team round 9 on the engines' edges. Each scenario says what a clinician expects; the
checks must say it on DuckDB and on Spark alike (`pytest tests/spec --engine spark`). As of
2026-11-20."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)


@pytest.fixture
def turkish_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """The audit run on a server whose default locale is Turkish (tr_TR), as a Turkish clinic's is.
    On Spark the JVM's default locale is switched for the test (a local master runs its executors in
    the driver's JVM); DuckDB's functions read no locale."""
    if request.config.getoption("--engine") != "spark":
        yield
        return
    jvm = request.getfixturevalue("spark_session").sparkContext._jvm
    before = jvm.java.util.Locale.getDefault()
    jvm.java.util.Locale.setDefault(jvm.java.util.Locale("tr", "TR"))
    try:
        yield
    finally:
        jvm.java.util.Locale.setDefault(before)


# ---------------------------------------------------------------------------------------------
# insulin_potassium_drop on a server in a Turkish locale. Java lowercases by the JVM's default
# locale: in Turkish (and Azeri) 'I' becomes the dotless 'ı', so on Spark 'BD MICRO-FINE™ INSULIN
# SYRINGE' read 'bd mıcro-fıne™ ınsulın syrınge' (Spark takes that path for a name with any
# character beyond ASCII: here the trade mark sign), no device word was found, and the syringe
# counted as insulin; IGF-1 (mecasermin) likewise read as insulin. A clinician expects the
# insulin supplies and IGF-1 out of the population wherever the audit runs, as on DuckDB.
# ---------------------------------------------------------------------------------------------
LOCALE_PRESCRIPTIONS = table("""
patient_id | drug_name                                                   | rxnorm_code | atc_code | start_date | end_date | days_supply
T01        | BD MICRO-FINE™ INSULIN SYRINGE 0.5ML 30G                   |             |          | 2025-01-01 |          |
T02        | INCRELEX® (MECASERMIN) INSULIN-LIKE GROWTH FACTOR 10MG/ML  |             |          | 2025-01-01 |          |
# controls: an insulin named in capitals with a registered sign, and a plain-ASCII syringe
T03        | NOVORAPID® FLEXPEN® 100 UNITS/ML INSULIN ASPART            |             |          | 2025-01-01 |          |
T04        | BD MICRO-FINE INSULIN SYRINGE 0.5ML 30G                    |             |          | 2025-01-01 |          |
""")
LOCALE_LABS = table(
    "patient_id | collected_at | loinc_code | test_name | value | unit\n"
    + "\n".join(f"T0{n} | 2026-10-01 | 2823-3 | | 3.2 | mmol/L" for n in range(1, 5))
)


@pytest.mark.usefixtures("turkish_server")
def test_insulin_devices_and_igf_1_named_in_capitals_are_no_insulin_in_a_turkish_locale(tmp_path):
    check_spec(
        tmp_path,
        "insulin_potassium_drop",
        AS_OF,
        {"prescriptions": LOCALE_PRESCRIPTIONS, "labs": LOCALE_LABS},
        {"T01": OUT, "T02": OUT, "T03": True, "T04": OUT},
    )
