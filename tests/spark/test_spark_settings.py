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

from tests.spark.engine import skip_without_spark

ROOT = Path(__file__).resolve().parents[2]
KEYS = (
    "spark.sql.shuffle.partitions",
    "spark.sql.ui.retainedExecutions",
    "spark.sql.session.timeZone",
    "spark.sql.parser.manageParserCaches",
    "spark.sql.parser.parserDfaCacheFlushRatio",
)
PROBE = f"""
import json
from pipelines.engines.spark import session
spark = session("local[1]")
print(json.dumps({{key: spark.conf.get(key) for key in {KEYS!r}}}))
"""


def test_spark_defaults_conf_wins_over_the_local_defaults_but_not_over_utc(tmp_path: Path) -> None:
    """A network tunes Spark in spark-defaults.conf (or spark-submit --conf, read the same way):
    2000 shuffle partitions stay 2000, not clinic-audit's 4 for two local cores; a setting it does
    not give takes clinic-audit's default; its time zone does not move the findings' dates."""
    skip_without_spark()
    (tmp_path / "spark-defaults.conf").write_text(
        "spark.sql.shuffle.partitions 2000\n"
        "spark.sql.ui.retainedExecutions 7\n"
        "spark.sql.session.timeZone America/New_York\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SPARK_CONF_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    settings = json.loads(done.stdout.strip().splitlines()[-1])
    assert settings == {
        "spark.sql.shuffle.partitions": "2000",
        "spark.sql.ui.retainedExecutions": "7",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parser.manageParserCaches": "true",
        "spark.sql.parser.parserDfaCacheFlushRatio": "10",
    }
