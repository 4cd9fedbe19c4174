"""The checks on Apache Spark (`engine = "spark"`): the data tables in Spark, the checks translated.

What lives where in Spark mode:
- Spark holds the data tables the checks read (labs, prescriptions, diagnoses, patients' state), the
  concept tables DuckDB built from them (each distinct drug's product number, codelists and
  topicality, each distinct code's codelists), and
  the concept views of checks/sql/_sources.sql and _concepts.sql, translated (checks/translate.py).
- The DuckDB file stays the database of record: it holds the run record, the findings and the check
  results, so reports, email, worklists, history and `explain` work unchanged. Each check's result
  rows (one per patient in its population: small) come back to the driver as Arrow and land in the
  DuckDB temp table `result_<id>`, where checks/evaluate.py validates, leaves out the deceased and
  those who left the practice, and stores them exactly as with DuckDB.
- The rows reach Spark after the DuckDB ingest has validated them (the same contract, rules and
  quarantine); `publish` copies them into Spark as the checks read them (with `--as-of per-patient`,
  each patient's dates moved as checks/sql/_aligned.sql moves them). The monthly measures still run
  on DuckDB, on the same validated rows.

Parameters are bound: checks by `spark.sql(query, args=...)` (`:name`), the as-of date of the
deaths that end exposures through the DataFrame API.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from py4j.protocol import Py4JError, Py4JJavaError, Py4JNetworkError
from pyspark import SparkConf, SparkContext
from pyspark.errors import PySparkException
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession

from checks import translate
from checks.framework import CheckDefinition
from pipelines.errors import EngineError, ResourceError
from pipelines.settings import ConfigError
from reports.files import private_folder_beside

log = logging.getLogger(__name__)

# The tables the checks' SQL reads (checks/sql/_sources.sql, _concepts.sql, and the codelist table
# checks/sql/_codelists.sql builds), each published from what DuckDB's checks read for it: the
# src_* views, so with --as-of per-patient Spark gets each patient's dates as moved (_aligned.sql).
# (The patients' state is _sources.sql's table patient_state_now, published as that file's tables are.)
DATA_TABLES = {
    "labs": "src_labs",
    "prescriptions": "src_prescriptions",
    "diagnoses": "src_diagnoses",
    "codelist": "codelist",
}
# The same relation under the name _sources.sql reads it by (the current version of each prescription
# and diagnosis).
ALIASES = {"prescriptions": ("current_prescriptions",), "diagnoses": ("current_diagnoses",)}
PREPARED_FILES = ("_sources.sql", "_concepts.sql")
# How a full JVM heap reads in the error Spark's driver returns (the Java exception or its cause).
# A broadcast join's table built past the heap reads as Spark's own sentence, the OutOfMemoryError
# under it (several at once, under adaptive execution, list only their messages).
_OUT_OF_MEMORY = (
    "java.lang.OutOfMemoryError",
    "Java heap space",
    "GC overhead limit exceeded",
    "Not enough memory to build and broadcast the table",
)
# The characters Hadoop's path globbing reads as a pattern (spark.read.parquet globs every path).
_GLOB = re.compile(r"([{}\[\]*?\\])")
# Settings the findings depend on: always these, whatever the cluster says.
REQUIRED_CONFIG = {
    "spark.sql.session.timeZone": "UTC",  # timestamps are wall-clock times, as in DuckDB
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# Settings for a run on this machine: a cluster's own (spark-defaults.conf, spark-submit --conf, a
# notebook's session) win, so a network's spark.sql.shuffle.partitions = 2000 is not cut to 4.
DEFAULT_CONFIG = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # The SQL parser's (ANTLR's) prediction cache is kept for the driver's life and grows with every
    # new statement: the checks' translated SQL is long, and one run left 450 MB of a 1 GB heap
    # behind (a second run in the same process, a test session or a notebook, then ran out building
    # a broadcast). Flushed when past a tenth of the driver's heap: 227 MB left after one run; two
    # runs took 89 and 57 s against 86 and 59 s unflushed (README, "Running on Apache Spark").
    "spark.sql.parser.manageParserCaches": "true",
    "spark.sql.parser.parserDfaCacheFlushRatio": "10",
    # Each finished query's plan and metrics are kept for Spark's web UI (off here): 1000 by default
    "spark.sql.ui.retainedExecutions": "50",
}
# Defaults for a master on this machine only (any local one: local, local[N], local[*],
# local-cluster[...]), yielding as DEFAULT_CONFIG does. Adaptive execution runs each query stage of
# a plan as a job of its own, and a check's plan has many (the diuretic check's some 220 jobs on the
# sample clinic, most of them broadcasts; 15 with it off); on one machine's cores that costs more
# than it saves, and a cluster keeps Spark's default (on), where it coalesces partitions and splits
# skewed joins (README, "Running on Apache Spark", for the figures).
LOCAL_DEFAULT_CONFIG = {"spark.sql.adaptive.enabled": "false"}
# The memory page Spark's sorts, aggregations and hash joins allocate, read when the JVM starts.
# The driver builds each broadcast join's table with a memory manager of its own whose settings are
# the JVM's system properties (Spark's HashedRelation: `new SparkConf()`, unlimited memory), so
# without a page size there each table takes pages of Spark's largest, 64 MB; a check's plan holds
# its broadcasts at once (the diuretic check's some 170 to 190, more under adaptive execution), and
# on a local master the executors read them from the same heap. The seed-7 clinic of
# tests/spark/test_same_findings.py (adaptive execution on) peaked at 869 to 913 MB of live heap of
# 1 GB (and ran out in two of six runs); with 1 MB pages, at 370 to 401 MB, in the same time
# (2026-12-05, this machine; live heap sampled each second by `jcmd GC.class_histogram`). A local
# master started here therefore gets one page per 1024th of the driver's heap (at least 1 MB, at
# most 64 MB), unless a setting gives spark.buffer.pageSize: a task can hold at most 8192 pages, so
# the page grows with the heap to keep that bound at eight heaps.
PAGE_SIZE = "spark.buffer.pageSize"
MIN_PAGE, MAX_PAGE = 1 << 20, 64 << 20


def local_page_size(heap_bytes: int) -> str:
    """The page size (PAGE_SIZE) for a local master whose driver has `heap_bytes` of heap: a
    1024th of it rounded up to a power of two, between 1 and 64 MB, in Spark's notation ('1m')."""
    page = 1 << max(heap_bytes // 1024 - 1, 0).bit_length()
    return f"{min(max(page, MIN_PAGE), MAX_PAGE) >> 20}m"


def session(master: str = "", warehouse: str = "", config: Mapping[str, str] | None = None) -> SparkSession:
    """The SparkSession for this process (Spark keeps one per process; created on first use).

    `master`: spark_master; empty leaves it to Spark's launcher: spark-submit's --master (or the
    session of the notebook this runs in), else spark.master in spark-defaults.conf, else Spark's
    own default (local[*]: every core of this machine). A master set here wins over the launcher's,
    though not over a session already running, which keeps its own.

    A Spark that cannot start (a master spark-submit refuses or cannot parse, no Java, a cluster
    that does not answer) is a ConfigError naming spark_master: one line, exit 2. The JVM's own
    console output (start-up banner, warnings, Java stack traces) is kept off stderr unless logging
    is at debug (-v): a nightly run with -q stays silent, and a failure reads as one line."""
    if master and not (master == "yarn" or master.startswith(("spark", "k8s", "local"))):  # as spark-submit
        raise ConfigError(
            f"spark_master = {master!r} is no Spark master: expected local[N], local[*], yarn, "
            "spark://host:port or k8s://..."
        )
    options = {**REQUIRED_CONFIG, **(config or {})}
    if warehouse:
        options["spark.sql.warehouse.dir"] = str(Path(warehouse).resolve())
    defaults = {key: value for key, value in DEFAULT_CONFIG.items() if key not in options}
    try:
        _start_quietly(master, options, defaults)
        builder = SparkSession.builder.appName("clinic-audit")
        if master:
            builder = builder.master(master)
        for key, value in options.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        _default_where_unset(spark, defaults)
        _default_where_unset(spark, local_defaults(spark.sparkContext.master, options))
    except (PySparkException, Py4JError) as error:
        chosen = (
            f"spark_master = {master!r}"
            if master
            else "the master Spark's launcher chose (spark_master is empty: spark-submit's --master, "
            "else spark.master in spark-defaults.conf, else local[*])"
        )
        raise ConfigError(
            f"engine = spark: Spark did not start with {chosen} ({_reason(error)}); "
            "check spark_master, Java 17 (java -version) and, for a cluster, that its master answers "
            "(-v shows Spark's own log)"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    log.info(
        "spark: master %s, %d task slots, driver memory %s",
        spark.sparkContext.master,
        spark.sparkContext.defaultParallelism,
        spark.sparkContext.getConf().get("spark.driver.memory", "1g (Spark's default)"),
    )
    return spark


def _start_quietly(master: str, options: Mapping[str, str], defaults: Mapping[str, str]) -> None:
    """Start the JVM and the SparkContext, the JVM's stderr discarded below debug logging; nothing
    when this process already has them. Under spark-submit, launch_gateway joins its JVM instead.

    `master` and `options` are set; `defaults` only where the JVM's own settings (spark-defaults.conf,
    and spark-submit's --master and --conf when it started the JVM) give none."""
    if SparkContext._active_spark_context is not None or SparkContext._gateway is not None:
        return
    conf = SparkConf().setAppName("clinic-audit").setAll(list(options.items()))
    if master:
        conf.setMaster(master)
    quiet = not log.isEnabledFor(logging.DEBUG)
    gateway = launch_gateway(conf, {"stderr": subprocess.DEVNULL} if quiet else None)
    # the JVM's settings (read from its system properties), then ours over them
    full = SparkConf(_jvm=gateway.jvm).setAll(conf.getAll())
    for key, value in defaults.items():
        full.setIfMissing(key, value)
    if runs_locally(full.get("spark.master", "local[*]")) and not full.contains(PAGE_SIZE):
        heap = gateway.jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(
            full.get("spark.driver.memory", "1g")
        )
        full.set(PAGE_SIZE, local_page_size(heap))  # the tasks' memory manager
        gateway.jvm.java.lang.System.setProperty(PAGE_SIZE, full.get(PAGE_SIZE))  # the broadcasts' own
    SparkContext(conf=full, gateway=gateway)


def runs_locally(master: str) -> bool:
    """Whether a master (the one in force, whoever chose it) runs on this machine: local,
    local[N], local[*], local-cluster[...]. A cluster's executors do not share this machine."""
    return master.startswith("local")


def local_defaults(master: str, options: Mapping[str, str]) -> dict[str, str]:
    """LOCAL_DEFAULT_CONFIG less what `options` set, when `master` runs on this machine; nothing
    for a cluster's."""
    if not runs_locally(master):
        return {}
    return {key: value for key, value in LOCAL_DEFAULT_CONFIG.items() if key not in options}


def _default_where_unset(spark: SparkSession, defaults: Mapping[str, str]) -> None:
    """A session this process did not start (a notebook's) takes the defaults it has no value
    for and can still change (those Spark reads at start-up, such as retainedExecutions, not)."""
    for key, value in defaults.items():
        if spark.conf.get(key, None) is None and spark.conf.isModifiable(key):
            spark.conf.set(key, value)


def _reason(error: Exception) -> str:
    """Why Spark did not start, in one line: the Java exception's message, or PySpark's."""
    if isinstance(error, Py4JJavaError):
        text = str(error.java_exception.getMessage() or error.java_exception.getClass().getSimpleName())
    else:
        text = getattr(error, "getMessage", lambda: str(error))()
    first = (text.strip().splitlines() or [type(error).__name__])[0]
    return first[:200]


_STOPPED = (
    "Spark stopped during the run: its Java process was killed or crashed (the kernel's "
    "out-of-memory killer?), or the cluster stopped answering; -v shows Spark's own log. "
    "A run that had not committed leaves the database unchanged."
)


def _jvm_gone() -> bool:
    """Whether Spark's Java process no longer answers: asked after a Py4J error that says nothing
    more ("An error occurred while calling o42.sql"), which is what Py4J raises when the connection
    breaks while it waits for an answer (it retries only a failed send, not a failed receive)."""
    context = SparkContext._active_spark_context
    if context is None:
        return True
    try:
        context._jvm.java.lang.System.nanoTime()  # (PySpark's own handle on the JVM; private)
    except (ConnectionError, Py4JError):
        return True
    return False


@contextmanager
def _spark_guard() -> Iterator[None]:
    """Spark's driver out of memory as a ResourceError (exit 7, one line), as DuckDB's is; Spark's
    Java process gone (killed, crashed, a cluster that went away: PySpark then reports "Connection
    refused", an OSError the CLI would read as a file it cannot use) as an EngineError (exit 9, one
    line); any other Spark error unchanged (an internal error: a bug)."""
    try:
        yield
    except (ConnectionError, Py4JNetworkError):
        raise EngineError(_STOPPED) from None
    except (PySparkException, Py4JError) as error:
        try:
            text = str(error)
        except Exception:  # the JVM may be gone: then it is no heap we can name
            text = ""
        if not any(sign in text for sign in _OUT_OF_MEMORY):
            if _jvm_gone():
                raise EngineError(_STOPPED) from None
            raise
        raise ResourceError(
            "out of memory in Spark's driver (its JVM heap). A run that had not committed leaves the "
            "database unchanged; raise spark.driver.memory (spark-submit --driver-memory) or add memory."
        ) from None


@dataclass
class SparkEngine:
    """Evaluates the checks on a SparkSession; passed to checks.evaluate.run_checks as `engine`.

    `beside`: the database file, when the driver and the executors share its disk (a local
    master): the data is then published as Parquet files in a private folder beside it
    (`.<db name>.spark-<random>`, owner-only, removed after the run; one a killed run left is
    removed by the next), which Spark reads in parallel. None: the rows go through the driver
    (createDataFrame), which holds them all in its JVM heap (1 GB by default: some 100k patients'
    results). Spark reads DuckDB's Parquet TIMESTAMP as TIMESTAMP_NTZ and the Arrow path's as
    TIMESTAMP in the session time zone, UTC: the same wall-clock times either way."""

    spark: Any
    beside: Path | None = None
    _folder: Path | None = field(default=None, init=False)
    _staging: ExitStack = field(default_factory=ExitStack, init=False)

    def publish(self, con: duckdb.DuckDBPyConnection) -> None:
        """Copy the validated data (as DuckDB's checks read it, after checks.evaluate.prepare) and
        the run's codelist from DuckDB into Spark temp views. (The patients' state, a table of
        _sources.sql, is published by `prepare` with that file's other tables.)"""
        if self.beside is not None:
            staging = private_folder_beside(self.beside, "spark", "staged copy for Spark")
            self._folder = self._staging.enter_context(staging)
        for name, source in DATA_TABLES.items():
            self._publish(con, name, source)

    def _publish(self, con: duckdb.DuckDBPyConnection, name: str, source: str) -> None:
        """One DuckDB relation as the Spark temp view `name` (fixed names, never user data)."""
        relation = con.sql(f"SELECT * FROM {source}")  # noqa: S608 - fixed names
        if self._folder is None:
            frame = self.spark.createDataFrame(relation.to_arrow_table())
        else:
            path = self._folder / f"{name}.parquet"
            relation.write_parquet(str(path))  # through DuckDB's API: no path formatted into SQL
            frame = self.spark.read.parquet(_literal_path(path))
        frame.createOrReplaceTempView(name)
        for alias in ALIASES.get(name, ()):
            frame.createOrReplaceTempView(alias)
        log.debug("spark: %s published", name)

    def close(self) -> None:
        """Remove the staged Parquet files (patient data) once the run is done with them."""
        self._staging.close()
        self._folder = None

    def prepare(self, con: duckdb.DuckDBPyConnection, per_patient_as_of: date | None = None) -> None:
        """Publish the data, then build the concept views in Spark from the one DuckDB source.

        The tables of those files (each distinct drug's product number and codelists, each code's
        codelists, the deceased) are DuckDB's own, built by checks.evaluate.prepare and published:
        small, and matched by one engine's string functions (Java lowercases 'İ' to 'i' and a
        combining dot, DuckDB to 'i', and their regex engines differ), so a drug is in the same
        codelists on both, under the same number.
        `per_patient_as_of`: DuckDB's prepare has moved each patient's dates (_aligned.sql) in the
        src_* views published, so Spark's sources are the moved ones; nothing else differs."""
        del per_patient_as_of  # already applied by DuckDB's prepare, in what is published
        with _spark_guard():
            self.publish(con)
            for file in PREPARED_FILES:
                text = (translate.SQL_DIR / file).read_text(encoding="utf-8")
                for kind, name, query in translate.prepared_views(text):
                    if kind == "TABLE":
                        self._publish(con, name, name)
                        self.spark.sql(f"CACHE TABLE {name}")
                    else:
                        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")

    def evaluate_into(
        self,
        con: duckdb.DuckDBPyConnection,
        definition: CheckDefinition,
        params: Mapping[str, Any],
        table: str,
    ) -> None:
        """One check on Spark; its rows into the DuckDB temp table `table` (checks/evaluate.py)."""
        as_of = params["as_of"]
        deaths = translate.to_spark("SELECT * FROM exposure_deaths_after($as_of)")  # _concepts.sql
        query = translate.check_query(definition.sql, texts=True)
        with _spark_guard():
            self.spark.sql(deaths, args={"as_of": as_of}).createOrReplaceTempView("exposure_deaths")
            rows = self.spark.sql(query, args=query_args(con, query, params)).toArrow()
            _release_broadcasts(self.spark)
        con.register("spark_result", rows)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM spark_result")  # noqa: S608
        finally:
            con.unregister("spark_result")


def _release_broadcasts(spark: Any) -> None:
    """Let Spark free the broadcast tables of the query just run. A check's plan broadcasts the
    small side of most of its joins (the diuretic check's some 170 to 190), and Spark's cleaner
    removes a broadcast only once the JVM's garbage collector has found it unreferenced, which a
    driver with heap to spare does not do between checks: the earlier checks' broadcasts stayed in
    the driver's heap (1 GB by default) until a later check ran out of it (the sample clinic
    audited per patient, tests/spark/test_same_findings.py: exit 7 on the fifth check, which
    passes run alone). One collection per check costs a fraction of a second on this heap."""
    spark.sparkContext._jvm.java.lang.System.gc()  # (PySpark's own handle on the JVM; private)


def query_args(con: duckdb.DuckDBPyConnection, query: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The check's parameters, and the DuckDB text of each one the query writes into text
    (`:name__text`, checks/translate.py): DuckDB itself casts the value, so a threshold such as
    0.0009 reads '0.0009' in a reason on both engines (Java would write '9.0E-4')."""
    args = dict(params)
    for name in set(re.findall(rf":(\w+){translate.TEXT_SUFFIX}\b", query)) & set(params):
        rows = con.execute("SELECT CAST($value AS VARCHAR)", {"value": params[name]}).fetchall()
        args[f"{name}{translate.TEXT_SUFFIX}"] = rows[0][0]
    return args


def _literal_path(path: Path) -> str:
    """A file path as Spark's reader takes it literally: spark.read.parquet() globs its path, so a
    database in 'clinic [2026]' or 'site {a,b}' named no file (or listed a sibling with a colon in
    its name and failed on it); each glob character is escaped with a backslash."""
    return _GLOB.sub(r"\\\1", str(path))


def engine_for(master: str, warehouse: str, database: Path | None = None) -> SparkEngine:
    """The Spark engine on a session with this master and warehouse, staging its data beside
    `database` with a local master only (a cluster's executors do not see the driver's disk)."""
    spark = session(master, warehouse)
    return SparkEngine(spark, database if runs_locally(spark.sparkContext.master) else None)
