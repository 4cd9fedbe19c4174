"""The other peer an analyst would write: the two core checks in Polars, straight from the CSVs.

Usage:  python -m tests.bench.polars_peer EXPORT_DIR AS_OF FLAGS_CSV

Lazy scans of the generic CSVs (`pl.scan_csv`, typed on read), codes mapped onto the project's
codelists over distinct values (as tests/bench/pandas_peer.py does), and
`diuretic_electrolyte_monitoring` and `cramps_cirrhosis` computed as their definitions say:
population, flag and priority. No validation, no database, no reports: the scope is "two checks
from the CSVs", so compare it with the checks on a loaded database and, for the whole night, with the
full pipeline, saying which is which. Writes the flagged (check_id, patient_id, priority) to
FLAGS_CSV and prints one JSON line: seconds and peak memory (VmHWM of this process).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

CODELISTS = Path(__file__).resolve().parents[2] / "checks" / "codelists"
LOOKBACK, RECENT = 365, 90  # the checks' defaults, as in tests/bench/pandas_peer.py
LOW = {"potassium": 3.5, "sodium": 135.0, "magnesium": 0.70}

SCHEMAS = {
    "labs": {
        "patient_id": pl.String,
        "collected_at": pl.Datetime,
        "loinc_code": pl.String,
        "test_name": pl.String,
        "value": pl.Float64,
        "unit": pl.String,
    },
    "prescriptions": {
        "patient_id": pl.String,
        "drug_name": pl.String,
        "rxnorm_code": pl.String,
        "atc_code": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "days_supply": pl.Float64,
    },
    "diagnoses": {
        "patient_id": pl.String,
        "code": pl.String,
        "code_system": pl.String,
        "recorded_at": pl.Date,
        "resolved_at": pl.Date,
    },
}


def scan(folder: Path, table: str) -> pl.LazyFrame:
    """A lazy, typed scan of one export file."""
    return pl.scan_csv(folder / f"{table}.csv", schema=SCHEMAS[table])


def codelist(name: str) -> pl.DataFrame:
    """A codelist CSV as text columns."""
    return pl.read_csv(CODELISTS / f"{name}.csv", infer_schema=False)


def _phrases(name: str) -> list[str]:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    return [" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]


def diuretic_drugs(rx: pl.LazyFrame) -> pl.DataFrame:
    """The distinct (drug_name, rxnorm_code, atc_code) that are diuretics: ATC prefix, RxNorm or a
    name phrase."""
    cl = codelist("diuretics")
    atc = cl.filter(pl.col("system") == "ATC")["code"].to_list()
    rxnorm = cl.filter(pl.col("system") == "RxNorm")["code"].to_list()
    names = set(cl.filter(pl.col("system") == "name")["code"].to_list())
    drugs = rx.select("drug_name", "rxnorm_code", "atc_code").unique().collect()
    by_name = [bool(set(_phrases(n or "")) & names) for n in drugs["drug_name"].to_list()]
    atc_hit = pl.any_horizontal(
        [pl.col("atc_code").fill_null("").str.to_uppercase().str.starts_with(a) for a in atc]
    )
    return (
        drugs.with_columns(by_name=pl.Series(by_name))
        .filter(atc_hit | pl.col("rxnorm_code").is_in(rxnorm) | pl.col("by_name"))
        .drop("by_name")
    )


def blood_results(labs: pl.LazyFrame, analytes: list[str]) -> pl.LazyFrame:
    """Numeric blood results of the analytes: LOINC code first, else the lower-cased test name."""
    cl = codelist("lab_tests").filter((pl.col("specimen") == "blood") & pl.col("analyte").is_in(analytes))
    by_code = dict(cl.filter(pl.col("system") == "LOINC").select("code", "analyte").iter_rows())
    by_name = dict(cl.filter(pl.col("system") == "name").select("code", "analyte").iter_rows())
    analyte = (
        pl.when(pl.col("loinc_code").is_not_null())
        .then(pl.col("loinc_code").replace_strict(by_code, default=None))
        .otherwise(
            pl.col("test_name").str.strip_chars().str.to_lowercase().replace_strict(by_name, default=None)
        )
    )
    return (
        labs.with_columns(analyte=analyte)
        .filter(pl.col("analyte").is_not_null() & pl.col("value").is_not_null())
        .select("patient_id", "collected_at", "value", "analyte")
    )


def latest(results: pl.LazyFrame, as_of: date, patients: pl.LazyFrame) -> pl.LazyFrame:
    """Per patient and analyte: the day and value of the latest result on or before as-of."""
    return (
        results.filter(pl.col("collected_at").dt.date() <= as_of)
        .join(patients, on="patient_id", how="semi")
        .group_by("patient_id", "analyte")
        .agg(
            at=pl.col("collected_at").max().dt.date(),
            value=pl.col("value").sort_by("collected_at", "value", descending=[True, False]).first(),
        )
    )


def diuretic_check(folder: Path, as_of: date) -> pl.DataFrame:
    """Patients on a diuretic on as-of without blood K and Na in the lookback; priority."""
    rx = scan(folder, "prescriptions")
    end = pl.coalesce(
        pl.col("end_date"), pl.col("start_date") + pl.duration(days=pl.col("days_supply").cast(pl.Int64))
    )
    active = (
        rx.join(diuretic_drugs(rx).lazy(), on=["drug_name", "rxnorm_code", "atc_code"], nulls_equal=True)
        .filter((pl.col("start_date") <= as_of) & (end.is_null() | (end >= as_of)))
        .select("patient_id")
        .unique()
    )
    since = as_of - timedelta(days=LOOKBACK)
    last = latest(blood_results(scan(folder, "labs"), ["potassium", "sodium"]), as_of, active)
    recent = (
        last.filter(pl.col("at") >= since)
        .group_by("patient_id")
        .agg(k=(pl.col("analyte") == "potassium").any(), na=(pl.col("analyte") == "sodium").any())
    )
    judged = active.join(recent, on="patient_id", how="left").with_columns(
        pl.col("k").fill_null(False), pl.col("na").fill_null(False)
    )
    return (
        judged.filter(~(pl.col("k") & pl.col("na")))
        .select(
            "patient_id",
            priority=pl.when(~pl.col("k") & ~pl.col("na")).then(pl.lit("high")).otherwise(pl.lit("normal")),
        )
        .collect()
    )


def _coded(dx: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """Diagnoses in codelist `name`: ICD by prefix without the dot, SNOMED exact."""
    cl = codelist(name).with_columns(pl.col("code").str.replace_all(".", "", literal=True))
    bare = pl.col("code").str.to_uppercase().str.replace_all(".", "", literal=True)
    hits = []
    for (system,), group in cl.group_by("system"):
        codes = group["code"].to_list()
        match = (
            bare.is_in(codes)
            if system == "SNOMED-CT"
            else pl.any_horizontal([bare.str.starts_with(c) for c in codes])
        )
        hits.append((pl.col("code_system") == system) & match)
    codes = dx.select("code", "code_system").unique().filter(pl.any_horizontal(hits))
    return dx.join(codes, on=["code", "code_system"], how="semi")


def cramps_check(folder: Path, as_of: date) -> pl.DataFrame:
    """Patients with open cirrhosis on as-of and a cramp diagnosis in the lookback; priority."""
    dx = scan(folder, "diagnoses")
    cirrhosis = _coded(dx, "cirrhosis").filter(
        (pl.col("recorded_at") <= as_of) & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") > as_of))
    )
    window = pl.col("recorded_at").is_between(as_of - timedelta(days=LOOKBACK), as_of)
    cramps = (
        _coded(dx, "muscle_cramps")
        .filter(window)
        .join(cirrhosis.select("patient_id"), on="patient_id", how="semi")
        .select("patient_id")
        .unique()
    )
    last = latest(blood_results(scan(folder, "labs"), list(LOW)), as_of, cramps)
    limits = pl.col("analyte").replace_strict(LOW, default=None, return_dtype=pl.Float64)
    judged = last.group_by("patient_id").agg(
        recent=(pl.col("at") >= as_of - timedelta(days=RECENT)).any(),
        low=(pl.col("value") < limits).any(),
    )
    return (
        cramps.join(judged, on="patient_id", how="left")
        .select(
            "patient_id",
            priority=pl.when(pl.col("recent").fill_null(False).not_() | pl.col("low").fill_null(False))
            .then(pl.lit("high"))
            .otherwise(pl.lit("normal")),
        )
        .collect()
    )


def main() -> None:
    """Both checks from the CSVs; write the flags, print the timings as JSON."""
    folder, as_of, flags_csv = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), sys.argv[3]
    started = time.perf_counter()
    results = {
        "diuretic_electrolyte_monitoring": diuretic_check(folder, as_of),
        "cramps_cirrhosis": cramps_check(folder, as_of),
    }
    seconds = time.perf_counter() - started
    pl.concat(
        [r.select(pl.lit(c).alias("check_id"), "patient_id", "priority") for c, r in results.items()]
    ).write_csv(flags_csv)
    print(json.dumps({"seconds": seconds, "checks": seconds, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    """High-water RSS of this process (VmHWM; ru_maxrss would include the parent's peak at fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
