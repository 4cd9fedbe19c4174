"""The peer a user would otherwise write: the two core checks in pandas, validated with pandera.

Usage:  python -m tests.bench.pandas_peer EXPORT_DIR AS_OF FLAGS_CSV

Loads the four generic CSVs with pandas (pyarrow CSV engine, the fastest pandas offers), validates
them with pandera's pandas backend (lazy, every failure collected), maps codes onto the project's
codelists (over distinct values, as a careful user would), and computes
`diuretic_electrolyte_monitoring` and `cramps_cirrhosis` as their definitions say: population,
flag, priority and the latest potassium/sodium(/magnesium) evidence. Baclofen/albumin evidence is
left out (it does not change the flag). Writes the flagged (check_id, patient_id, priority) to
FLAGS_CSV and prints one JSON line: seconds per stage and peak memory (VmHWM of this process).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

CODELISTS = Path(__file__).resolve().parents[2] / "checks" / "codelists"
LOOKBACK, RECENT = 365, 90
LOW = {"potassium": 3.5, "sodium": 135.0, "magnesium": 0.70}

STR = pa.Column(str, nullable=True)
SCHEMAS = {
    "patients": pa.DataFrameSchema(
        {"patient_id": pa.Column(str, unique=True), "birth_date": pa.Column("datetime64[ns]"), "sex": STR}
    ),
    "labs": pa.DataFrameSchema(
        {
            "patient_id": pa.Column(str),
            "collected_at": pa.Column("datetime64[ns]"),
            "loinc_code": STR,
            "test_name": STR,
            "value": pa.Column(float, pa.Check.ge(0), nullable=True),
            "unit": STR,
        },
        checks=pa.Check(lambda d: d.loinc_code.notna() | d.test_name.notna(), error="a code or a name"),
    ),
    "prescriptions": pa.DataFrameSchema(
        {
            "patient_id": pa.Column(str),
            "drug_name": pa.Column(str),
            "rxnorm_code": STR,
            "atc_code": STR,
            "start_date": pa.Column("datetime64[ns]"),
            "end_date": pa.Column("datetime64[ns]", nullable=True),
            "days_supply": pa.Column(float, pa.Check.ge(0), nullable=True),
        },
        checks=pa.Check(lambda d: d.end_date.isna() | (d.end_date >= d.start_date), error="end after start"),
    ),
    "diagnoses": pa.DataFrameSchema(
        {
            "patient_id": pa.Column(str),
            "code": pa.Column(str),
            "code_system": pa.Column(str, pa.Check.isin(["ICD-10-CM", "ICD-9-CM", "SNOMED-CT"])),
            "recorded_at": pa.Column("datetime64[ns]"),
            "resolved_at": pa.Column("datetime64[ns]", nullable=True),
        }
    ),
}
DATES = {
    "patients": ["birth_date"],
    "labs": ["collected_at"],
    "prescriptions": ["start_date", "end_date"],
    "diagnoses": ["recorded_at", "resolved_at"],
}
TEXT = {
    "patients": ["patient_id", "sex"],
    "labs": ["patient_id", "loinc_code", "test_name", "unit"],
    "prescriptions": ["patient_id", "drug_name", "rxnorm_code", "atc_code"],
    "diagnoses": ["patient_id", "code", "code_system"],
}

NUMBERS = {"labs": {"value": "float64"}, "prescriptions": {"days_supply": "float64"}}


def load(folder: Path) -> dict[str, pd.DataFrame]:
    """The four files as typed DataFrames."""
    frames = {}
    for table, dates in DATES.items():
        dtype = {c: "str" for c in TEXT[table]} | NUMBERS.get(table, {})
        frame = pd.read_csv(folder / f"{table}.csv", engine="pyarrow", dtype=dtype)
        for column in dates:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        frames[table] = frame
    return frames


def validate(frames: dict[str, pd.DataFrame]) -> None:
    """Every table against its pandera schema, all failures collected (lazy)."""
    for table, frame in frames.items():
        SCHEMAS[table].validate(frame, lazy=True)


def codelist(name: str) -> pd.DataFrame:
    """A codelist CSV as text columns."""
    return pd.read_csv(CODELISTS / f"{name}.csv", dtype=str)


def _phrases(name: str) -> set[str]:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    return {" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}


def diuretic_rows(rx: pd.DataFrame) -> pd.Series:
    """True for prescriptions of a diuretic: ATC prefix, RxNorm ingredient or a name phrase."""
    cl = codelist("diuretics")
    atc = tuple(cl.loc[cl.system == "ATC", "code"])
    rxnorm = set(cl.loc[cl.system == "RxNorm", "code"])
    names = set(cl.loc[cl.system == "name", "code"])
    drugs = rx[["drug_name", "rxnorm_code", "atc_code"]].drop_duplicates()
    hit = (
        drugs.atc_code.fillna("").str.upper().str.startswith(atc)
        | drugs.rxnorm_code.isin(rxnorm)
        | drugs.drug_name.map(lambda n: bool(_phrases(n) & names))
    )
    diuretic = drugs[hit.to_numpy()]
    keys = ["drug_name", "rxnorm_code", "atc_code"]
    return rx[keys].merge(diuretic.assign(is_diuretic=True), on=keys, how="left").is_diuretic.fillna(False)


def blood_results(labs: pd.DataFrame, analytes: list[str]) -> pd.DataFrame:
    """Numeric blood results of the analytes: LOINC code first, else the lower-cased test name."""
    cl = codelist("lab_tests")
    blood = cl[(cl.specimen == "blood") & cl.analyte.isin(analytes)]
    by_code = dict(blood.loc[blood.system == "LOINC", ["code", "analyte"]].itertuples(index=False))
    by_name = dict(blood.loc[blood.system == "name", ["code", "analyte"]].itertuples(index=False))
    coded = labs.loinc_code.notna()
    analyte = labs.loinc_code.map(by_code).where(coded, labs.test_name.str.strip().str.lower().map(by_name))
    keep = analyte.notna() & labs.value.notna()
    return labs.loc[keep, ["patient_id", "collected_at", "value"]].assign(analyte=analyte[keep])


def latest(results: pd.DataFrame, as_of: pd.Timestamp, patients) -> pd.DataFrame:
    """Per patient and analyte: the latest result on or before as-of (date and value), wide."""
    r = results[(results.collected_at.dt.normalize() <= as_of) & results.patient_id.isin(patients)]
    last = r.loc[r.groupby(["patient_id", "analyte"]).collected_at.idxmax()]
    last = last.assign(at=last.collected_at.dt.normalize())
    return last.pivot(index="patient_id", columns="analyte", values=["at", "value"])


def diuretic_check(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Patients on a diuretic on as-of without blood K and Na in the lookback; priority."""
    rx = frames["prescriptions"]
    end = rx.end_date.fillna(rx.start_date + pd.to_timedelta(rx.days_supply, unit="D"))
    active = rx[diuretic_rows(rx).to_numpy() & (rx.start_date <= as_of) & (end.isna() | (end >= as_of))]
    population = pd.Index(active.patient_id.unique())
    last = latest(blood_results(frames["labs"], ["potassium", "sodium"]), as_of, population)
    since = as_of - pd.Timedelta(days=LOOKBACK)
    has = {
        a: last.get(("at", a), pd.Series(dtype="datetime64[ns]")).reindex(population) >= since for a in LOW
    }
    k, na = has["potassium"].fillna(False), has["sodium"].fillna(False)
    out = pd.DataFrame({"patient_id": population, "flagged": ~(k & na).to_numpy()})
    out["priority"] = (~k & ~na).map({True: "high", False: "normal"}).to_numpy()
    return out[out.flagged]


def _coded(dx: pd.DataFrame, name: str) -> pd.Series:
    """True for diagnoses in codelist `name`: ICD by prefix without the dot, SNOMED exact."""
    cl = codelist(name)
    cl["code"] = cl.code.str.replace(".", "", regex=False)
    codes = dx[["code", "code_system"]].drop_duplicates()
    bare = codes.code.str.upper().str.replace(".", "", regex=False)
    hit = pd.Series(False, index=codes.index)
    for system, group in cl.groupby("system"):
        same = codes.code_system == system
        hit |= same & (
            bare.isin(set(group.code)) if system == "SNOMED-CT" else bare.str.startswith(tuple(group.code))
        )
    keys = ["code", "code_system"]
    return dx[keys].merge(codes[hit].assign(hit=True), on=keys, how="left").hit.fillna(False).to_numpy()


def cramps_check(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Patients with open cirrhosis on as-of and a cramp diagnosis in the lookback; priority."""
    dx = frames["diagnoses"]
    cirrhosis = dx[_coded(dx, "cirrhosis") & (dx.recorded_at <= as_of)]
    cirrhosis = cirrhosis[cirrhosis.resolved_at.isna() | (cirrhosis.resolved_at > as_of)]
    window = (dx.recorded_at >= as_of - pd.Timedelta(days=LOOKBACK)) & (dx.recorded_at <= as_of)
    cramps = dx[_coded(dx, "muscle_cramps") & window & dx.patient_id.isin(cirrhosis.patient_id)]
    flagged = pd.Index(cramps.patient_id.unique())
    last = latest(blood_results(frames["labs"], list(LOW)), as_of, flagged)
    recent = pd.Series(False, index=flagged)
    low = pd.Series(False, index=flagged)
    for analyte, limit in LOW.items():
        at = last.get(("at", analyte), pd.Series(dtype="datetime64[ns]")).reindex(flagged)
        value = last.get(("value", analyte), pd.Series(dtype=float)).reindex(flagged)
        recent |= (at >= as_of - pd.Timedelta(days=RECENT)).fillna(False)
        low |= (value.astype(float) < limit).fillna(False)
    priority = (~recent | low).map({True: "high", False: "normal"})
    return pd.DataFrame({"patient_id": flagged, "priority": priority.to_numpy()})


def main() -> None:
    """Load, validate, compute both checks; write the flags, print the timings as JSON."""
    folder, as_of, flags_csv = Path(sys.argv[1]), pd.Timestamp(date.fromisoformat(sys.argv[2])), sys.argv[3]
    times = {}
    started = time.perf_counter()
    frames = load(folder)
    times["load"] = time.perf_counter() - started
    mark = time.perf_counter()
    validate(frames)
    times["validate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    results = {
        "diuretic_electrolyte_monitoring": diuretic_check(frames, as_of),
        "cramps_cirrhosis": cramps_check(frames, as_of),
    }
    times["checks"] = time.perf_counter() - mark
    times["seconds"] = time.perf_counter() - started
    rows = [r.assign(check_id=c)[["check_id", "patient_id", "priority"]] for c, r in results.items()]
    pd.concat(rows).to_csv(flags_csv, index=False)
    print(json.dumps({**times, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    """High-water RSS of this process (VmHWM; ru_maxrss would include the parent's peak at fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
