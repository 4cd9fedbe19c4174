"""Write the seeded synthetic clinic export in sample_data/ and the answers it is built to produce.

Why this exists: the demo and the functional tests need a realistic export (a few hundred patients,
two years of history, the untidiness of real exports) in which every audit check has patients it
must flag, near-miss patients it must not flag, and a few broken rows the ingest must quarantine.
This script plants those patients deliberately, fills the rest of the clinic with background
patients who trigger nothing, writes the export, and then re-reads the files it wrote with a small
reference evaluator (plain Python, no SQL, its own code sets from VOCABULARY.md) to derive
``expected_flags.csv`` and ``quarantine_expected.csv``. It refuses to write those answer files
unless the evaluator agrees with what was planted, and unless the answer stays the same under the
other plausible readings of the details the issues leave open (see ``VARIANTS``).

The export carries the untidiness of issue #14 too: patients.csv has the optional ``death_date``
and ``deceased`` columns (patients dead before or on the as-of date, one dead on an unknown date),
labs.csv has censored values ('<2.5', '>60', '<= 5', '>2000'), text-only values ('haemolysed',
'see comment'), same-day results told apart by their time, and vital signs (weight, BMI, blood
pressure, with their LOINC codes) that no check uses. Those patients are appended after the main
draw (``appended_scenarios``) so that every earlier patient kept its random draws.

Issue #15 reviewed six definitions; ``issue15_scenarios`` plants a patient for each changed rule,
with near-miss controls, as the last patients with a third random stream: a low potassium on the
day insulin started (and one the day before it), a severe low the day before insulin (normal
priority), falls from 5.8 and '>6.0' (corrections, not drops), a diuretic shown beside insulin; a
diuretic started 14 and 15 days before as-of and a renewed one ('baseline tests due' vs
'overdue'); three neuropathic-pain drugs for depression only, a renewal of a drug first started
before the 24 months, an indication coded after the drugs; a low total calcium corrected by a
same-day albumin, without albumin, corrected to exactly 2.10, and a low ionised calcium; CKD
stage 4 and dialysis codes without an eGFR, open-ended NSAIDs started 90 and 91 days before
as-of; pregabalin, a doxepin cream and lithium in older patients with leg numbness, and
polypharmacy with eye drops, an as-required item and 27- and 28-day courses. An undated NSAID is
now a 90-day course, so the earlier NSAID scenarios start within 90 days of as-of.
The review of 2026-12 gave repeat medicines a refill gap (30 days after an issue ends the drug is
still taken): the furosemide that ended the day before as-of now ends 31 days before it (still a
control), and after them come a furosemide ended 30 days before as-of, indapamide repeats with
as-of between two issues, and a cramp between two statin issues (all flagged); then the fall-risk
check reading the same gap: five regular medicines with the fifth's 28-day issue run out 5 days
before as-of (flagged) and 31 days before (a control).

Usage, from the repository root:
    python sample_data/generate.py                      # seed 20261120, 346 patients
    python sample_data/generate.py --seed 7 --patients 500 --out /tmp/export

The work is done by the modules of ``sample_data/clinic/`` (see its ``__init__``): the
background population, the scenarios, the writer and the independent oracle; this script is
the command line and the verification that ties them together.

Standard library only. The same seed and patient count give byte-identical files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from clinic.export import Export, build_export, planted_quarantine, write_csv, write_export
from clinic.oracle import age_on, derive_expected_flags
from clinic.oracle_read import PRIMARY, load_export
from clinic.scenarios import DEFAULT_PATIENTS
from clinic.shared import AS_OF, CHECK_IDS, DEFAULT_SEED

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- verification


def verify(export: Export, flags: dict[tuple[str, str], str], folder: Path) -> None:
    """Every planted patient gets exactly its planned flags; no background patient gets any."""
    by_patient: dict[str, set[str]] = {}
    for check_id, pid in flags:
        by_patient.setdefault(pid, set()).add(check_id)
    problems = [
        f"{pid} ({s.key}): planned {sorted(s.flags)}, got {sorted(by_patient.get(pid, ()))}"
        for pid, s in sorted(export.planted.items())
        if by_patient.get(pid, set()) != set(s.flags)
    ]
    problems += [
        f"background {pid} flagged for {sorted(by_patient[pid])}"
        for pid in sorted(export.background)
        if pid in by_patient
    ]
    for check_id in CHECK_IDS:
        planted = [s for s in export.planted.values() if s.check == check_id]
        if sum(check_id in s.flags for s in planted) < 4 or all(s.flags for s in planted):
            problems.append(f"{check_id}: needs several planted flags and at least one control")
    _, rejected = load_export(folder, PRIMARY)
    if rejected != planted_quarantine(export):
        problems.append(f"quarantine {rejected} != planted {planted_quarantine(export)}")
    for name, rows in export.rows.items():
        if len({(row.values) for row in rows}) != len(rows):
            problems.append(f"{name}: exact duplicate rows (the ingest would drop them)")
        share = sum(row.bad is not None for row in rows) / max(len(rows), 1)
        if share >= 0.02:
            problems.append(f"{name}: bad-row share {share:.1%} is too high")
    if problems:
        raise AssertionError("sample does not match its plan:\n  " + "\n  ".join(problems))


def write_answers(
    flags: dict[tuple[str, str], str], export: Export, flags_path: Path, quarantine_path: Path
) -> None:
    """expected_flags.csv (with the planted scenario in each reason) and quarantine_expected.csv."""
    rows = [
        (check_id, pid, f"{reason} [planted: {export.planted[pid].key}]")
        for (check_id, pid), reason in sorted(flags.items())
    ]
    write_csv(flags_path, ("check_id", "patient_id", "why"), rows)
    quarantine = [(name, str(line), column, rule) for name, line, column, rule in planted_quarantine(export)]
    write_csv(quarantine_path, ("file", "line", "column", "rule_hint"), quarantine)


def summary(export: Export, flags: dict[tuple[str, str], str]) -> str:
    """Row counts, planted patients per check and flags per check, for the console."""
    lines = [
        f"{name}: {len(rows)} rows ({sum(r.bad is not None for r in rows)} bad)"
        for name, rows in export.rows.items()
    ]
    births = [date.fromisoformat(r.values[1]) for r in export.rows["patients.csv"]]
    older = sum(age_on(b, AS_OF) >= 65 for b in births)
    lines.append(
        f"patients aged 65+: {older}/{len(births)}; planted {len(export.planted)}, "
        f"background {len(export.background)}"
    )
    for check_id in CHECK_IDS:
        built = [s for s in export.planted.values() if s.check == check_id]
        flagged = sum(1 for c, _ in flags if c == check_id)
        lines.append(
            f"{check_id}: planted {sum(check_id in s.flags for s in built)} flagged + "
            f"{sum(check_id not in s.flags for s in built)} controls; "
            f"expected flags {flagged}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; defaults write the committed sample into sample_data/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE / "clinic_export", help="folder for the four export CSV files"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument(
        "--flags", type=Path, default=HERE / "expected_flags.csv", help="where to write expected_flags.csv"
    )
    parser.add_argument(
        "--quarantine",
        type=Path,
        default=HERE / "quarantine_expected.csv",
        help="where to write quarantine_expected.csv",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, write, re-read, verify, then write the answer files."""
    args = parse_args(argv)
    export = build_export(args.seed, args.patients)
    write_export(export, args.out)
    flags = derive_expected_flags(args.out)
    verify(export, flags, args.out)
    write_answers(flags, export, args.flags, args.quarantine)
    print(summary(export, flags))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
