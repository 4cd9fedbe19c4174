"""A cluster's own Spark settings win over clinic-audit's defaults for a local run; the settings the
findings depend on (the session time zone) do not yield.

Runs in a process of its own: the settings are read when the JVM starts, once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spark.engine import skip_without_spark

ROOT = Path(__file__).resolve().parents[2]
KEYS = (
    "spark.sql.shuffle.partitions",
    "spark.sql.ui.retainedExecutions",
    "spark.sql.session.timeZone",
    "spark.sql.parser.manageParserCaches",
    "spark.sql.parser.parserDfaCacheFlushRatio",
    "spark.sql.adaptive.enabled",
    "spark.buffer.pageSize",
)
PROBE = f"""
import json, sys
from pathlib import Path
from pipelines.engines.spark import engine_for
engine = engine_for(sys.argv[1], "", Path("audit.duckdb"))
settings = {{key: engine.spark.conf.get(key) for key in {KEYS!r}}}
settings["master"] = engine.spark.sparkContext.master
# what the driver builds a broadcast's table with (a memory manager reading the JVM's properties)
system = engine.spark.sparkContext._jvm.java.lang.System
settings["pageSize property"] = system.getProperty("spark.buffer.pageSize")
settings["staged beside the database"] = engine.beside is not None
print(json.dumps(settings))
"""
CLUSTER_DEFAULTS = (
    "spark.master local[1]\n"
    "spark.sql.shuffle.partitions 2000\n"
    "spark.sql.ui.retainedExecutions 7\n"
    "spark.sql.session.timeZone America/New_York\n"
)


def settings_in_force(spark_master: str, conf_dir: Path, more: str = "") -> dict[str, object]:
    """Start Spark in a process of its own under spark-defaults.conf in `conf_dir` (CLUSTER_DEFAULTS,
    then `more`), the engine made as a run makes it (engine_for, with `spark_master` from the
    config); the settings it has."""
    skip_without_spark()
    (conf_dir / "spark-defaults.conf").write_text(CLUSTER_DEFAULTS + more, encoding="utf-8")
    env = {**os.environ, "SPARK_CONF_DIR": str(conf_dir)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, spark_master],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_spark_defaults_conf_wins_over_the_local_defaults_but_not_over_utc(tmp_path: Path) -> None:
    """A network tunes Spark in spark-defaults.conf (or spark-submit --conf, read the same way):
    2000 shuffle partitions stay 2000, not clinic-audit's 4 for two local cores; a setting it does
    not give takes clinic-audit's default; its time zone does not move the findings' dates. With
    spark_master left empty (the default), its master is the one in force: the launcher decides,
    as `spark-submit --master yarn` must (a master of 'local[2]' by default once overrode it)."""
    assert settings_in_force("", tmp_path) == {
        "spark.sql.shuffle.partitions": "2000",
        "spark.sql.ui.retainedExecutions": "7",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parser.manageParserCaches": "true",
        "spark.sql.parser.parserDfaCacheFlushRatio": "10",
        "spark.sql.adaptive.enabled": "false",  # a local master's default
        "spark.buffer.pageSize": "1m",  # a local master's, for a 1 GB driver heap
        "pageSize property": "1m",
        "master": "local[1]",
        "staged beside the database": True,
    }


def test_a_master_set_in_the_config_wins_over_spark_defaults_conf(tmp_path: Path) -> None:
    """spark_master, when the config sets it, is the master, whatever spark-defaults.conf says."""
    settings = settings_in_force("local[2]", tmp_path)
    assert settings["master"] == "local[2]"
    assert settings["spark.sql.shuffle.partitions"] == "2000"


def test_adaptive_execution_given_by_spark_defaults_conf_stays_on_with_a_local_master(tmp_path: Path) -> None:
    """A local run turns adaptive execution off unless the launcher's settings say otherwise."""
    settings = settings_in_force("", tmp_path, "spark.sql.adaptive.enabled true\n")
    assert settings["master"] == "local[1]"
    assert settings["spark.sql.adaptive.enabled"] == "true"


def test_a_local_masters_page_grows_with_the_driver_heap_unless_a_setting_gives_one(tmp_path: Path) -> None:
    """The driver builds every broadcast join's table in pages of 64 MB unless the JVM's properties
    say otherwise (pipelines/engines/spark.py PAGE_SIZE): a local run gets a 1024th of the driver's
    heap instead (4 MB for 3 GB), in its settings and its properties, and a page size the
    launcher's settings give is kept."""
    bigger = settings_in_force("", tmp_path, "spark.driver.memory 3g\n")
    assert (bigger["spark.buffer.pageSize"], bigger["pageSize property"]) == ("4m", "4m")
    given = settings_in_force("", tmp_path, "spark.buffer.pageSize 8m\n")
    assert (given["spark.buffer.pageSize"], given["pageSize property"]) == ("8m", "8m")


def test_the_local_page_is_a_1024th_of_the_heap_between_1_and_64_mb() -> None:
    """At most 8192 pages per task: the page keeps that bound at eight heaps, and stays within the
    sizes Spark itself would choose."""
    pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
    from pipelines.engines.spark import local_page_size

    gib = 1 << 30
    assert [local_page_size(h) for h in (gib // 2, gib, 3 * gib, 4 * gib, 16 * gib, 64 * gib, 200 * gib)] == [
        "1m", "1m", "4m", "4m", "16m", "64m", "64m",
    ]  # fmt: skip


def test_adaptive_execution_is_a_local_default_only() -> None:
    """A cluster's master keeps Spark's default (on); a local one gets off, unless the run's own
    settings give a value (they win, as every setting of theirs does)."""
    pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
    from pipelines.engines.spark import local_defaults

    for local in ("local", "local[*]", "local[4]", "local-cluster[2,1,1024]"):
        assert local_defaults(local, {}) == {"spark.sql.adaptive.enabled": "false"}
    assert local_defaults("local[2]", {"spark.sql.adaptive.enabled": "true"}) == {}
    for cluster in ("yarn", "spark://head:7077", "k8s://https://api:6443"):
        assert local_defaults(cluster, {}) == {}


def test_a_session_already_running_keeps_its_settings_and_takes_the_defaults_it_lacks(
    spark_session,
) -> None:
    """In a notebook the session exists before clinic-audit asks for one: a setting it gives stays
    (13 shuffle partitions), a default it lacks is set (the parser cache's flush), the time zone is
    UTC whatever it said, and its master stays the master."""
    from pipelines.engines.spark import session

    conf = spark_session.conf
    before = {key: conf.get(key) for key in KEYS}
    master = spark_session.sparkContext.master
    try:
        conf.set("spark.sql.shuffle.partitions", "13")
        conf.set("spark.sql.session.timeZone", "Europe/London")
        conf.unset("spark.sql.parser.parserDfaCacheFlushRatio")
        conf.unset("spark.sql.adaptive.enabled")
        assert conf.get("spark.sql.parser.parserDfaCacheFlushRatio", None) is None
        spark = session("", "", {})
        assert spark is spark_session or spark.sparkContext is spark_session.sparkContext
        assert spark.sparkContext.master == master
        assert spark.conf.get("spark.sql.shuffle.partitions") == "13"
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
        assert spark.conf.get("spark.sql.parser.parserDfaCacheFlushRatio") == "10"
        assert spark.conf.get("spark.sql.adaptive.enabled") == "false"  # its master is local
    finally:
        for key, value in before.items():
            if conf.isModifiable(key):
                conf.set(key, value)


def test_with_a_cluster_master_in_force_the_data_goes_through_the_driver(monkeypatch) -> None:
    """Whether the data is staged as Parquet beside the database follows the master in force, not
    the setting: spark_master empty under `spark-submit --master yarn` must not stage on the
    driver's disk, which the executors do not see. No cluster runs here, so the session is a
    stand-in reporting the master a launcher chose; the local branch runs on a real Spark above."""
    pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
    from pipelines.engines import spark as engine

    masters = iter(["yarn", "local[4]"])

    class Context:
        def __init__(self) -> None:
            self.master = next(masters)

    class Session:
        def __init__(self) -> None:
            self.sparkContext = Context()

    monkeypatch.setattr(engine, "session", lambda master, warehouse: Session())
    assert engine.engine_for("", "", Path("audit.duckdb")).beside is None
    assert engine.engine_for("", "", Path("audit.duckdb")).beside == Path("audit.duckdb")
