"""The writer: scenarios and background patients turned into exported rows (with the untidiness of
real exports and the broken rows the ingest must quarantine), written as the four CSV files."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .background import Background, baseline_creatinine, ckd_epi_2021, make_background
from .events import DRUGS, GUARDED, LAB_TESTS, NORMAL, VITALS, Dx, Event, Lab, LabTest, Rx, Scenario, tests
from .scenarios import all_scenarios, appended_scenarios, issue15_scenarios
from .shared import AS_OF, FIRST_DAY, HEADERS

# --------------------------------------------------------------------------- writing rows


@dataclass(frozen=True)
class OutRow:
    """One exported line; ``bad`` names the column and rule the ingest must quarantine it for."""

    file: str
    key: tuple[str, str]  # patient, date: the export's sort order
    values: tuple[str, ...]
    bad: tuple[str, str] | None = None


def iso_day(day: int) -> str:
    """The calendar date ``day`` days from the export date."""
    return (AS_OF + timedelta(days=day)).isoformat()


class PatientWriter:
    """Renders one patient's events in that patient's own export style.

    Why per patient: a patient's results come from one laboratory (SI or conventional units,
    timestamps or plain dates), which is how mixed units and formats arise in real exports.
    """

    def __init__(self, pid: str, age: int, sex: str, creatinine: float, rng: random.Random):
        self.pid, self.age, self.sex, self.creatinine, self.rng = pid, age, sex, creatinine, rng
        self.conventional = rng.random() < 0.25
        self.timestamps = rng.random() < 0.6
        self._clock: dict[int, str] = {}
        self._day_creatinine: dict[int, float] = {}

    def rows(self, events: Iterable[Event]) -> list[OutRow]:
        """All rows for the events, in event order (the file is sorted later)."""
        out = []
        for event in events:
            if isinstance(event, Lab):
                out.append(self.lab(event))
            elif isinstance(event, Rx):
                out.append(self.rx(event))
            else:
                out.append(self.dx(event))
        return out

    def when(self, day: int, clock: str | None) -> str:
        """A plain date or a datetime; all tests of one visit share the visit's clock time."""
        if clock == "" or (clock is None and not self.timestamps):
            return iso_day(day)
        if clock is None:
            clock = self._clock.setdefault(
                day, f"{self.rng.randint(7, 11):02d}:{self.rng.randrange(0, 60, 5):02d}"
            )
        return f"{iso_day(day)}T{clock}:00"

    def drawn_value(self, test: str, day: int) -> float:
        """A normal SI value; creatinine and eGFR follow the patient's kidneys on that day."""
        if test in ("creatinine", "egfr"):
            creat = self._day_creatinine.setdefault(
                day, round(self.creatinine * self.rng.uniform(0.95, 1.05))
            )
            return creat if test == "creatinine" else round(ckd_epi_2021(creat, self.age, self.sex))
        return self.rng.uniform(*NORMAL[test])

    def lab(self, ev: Lab) -> OutRow:
        """A labs.csv row: value in the patient's units, identified by LOINC, name or both."""
        spec = LAB_TESTS[ev.test]
        if ev.empty:
            value, unit = "", ""
            loinc = spec.loincs[0]
        elif ev.text is not None:  # written as given; unit "" leaves the unit empty
            value, unit = ev.text, spec.si_unit if ev.unit is None else ev.unit
            loinc = ev.loinc or spec.loincs[0]
        else:
            value, unit = self.lab_value(ev, spec)
            loinc = ev.loinc or self.pick_loinc(spec, unit)
        ident = ev.ident or self.rng.choices(("both", "loinc", "name"), (80, 10, 10))[0]
        name = self.rng.choice(spec.names) if ident != "loinc" else ""
        code = loinc if ident != "name" else ""
        when = self.when(ev.day, ev.clock)
        return OutRow("labs.csv", (self.pid, when), (self.pid, when, code, name, value, unit))

    def lab_value(self, ev: Lab, spec: LabTest) -> tuple[str, str]:
        """The value text and unit; explicit planted values are written exactly as given."""
        if ev.value is not None:
            unit = ev.unit or spec.si_unit
            decimals = spec.us_decimals if unit == spec.us_unit else spec.si_decimals
            return f"{ev.value:.{decimals}f}", unit
        si = self.drawn_value(ev.test, ev.day)
        if self.conventional and spec.us_unit:
            return f"{si * spec.us_factor:.{spec.us_decimals}f}", spec.us_unit
        return f"{si:.{spec.si_decimals}f}", spec.si_unit

    def pick_loinc(self, spec: LabTest, unit: str) -> str:
        """The LOINC that matches the unit; now and then the analyte's second code."""
        if spec.us_loinc and unit == spec.us_unit:
            return spec.us_loinc
        if len(spec.loincs) > 1 and self.rng.random() < 0.15:
            return self.rng.choice(spec.loincs[1:])
        return spec.loincs[0]

    def rx(self, ev: Rx) -> OutRow:
        """A prescriptions.csv row, with codes sometimes missing as in real pharmacy feeds."""
        drug = DRUGS[ev.drug]
        ident = ev.ident or self.rng.choices(("both", "rxnorm", "atc", "name"), (86, 6, 5, 3))[0]
        rxcui = drug.rxcui if ident in ("both", "rxnorm") else ""
        atc = drug.atc if ident in ("both", "atc") else ""
        if not rxcui and not atc and ident != "name":
            rxcui, atc = drug.rxcui, drug.atc  # a code-only row must still carry a code
        start = iso_day(ev.start)
        end = "" if ev.end is None else iso_day(ev.end)
        days = "" if ev.days is None else str(ev.days)
        values = (self.pid, drug.name, rxcui, atc, start, end, days)
        return OutRow("prescriptions.csv", (self.pid, start), values)

    def dx(self, ev: Dx) -> OutRow:
        """A diagnoses.csv row; codes sometimes lose their dot and times sometimes appear."""
        undotted = ev.undotted
        if undotted is None:
            undotted = ev.system != "SNOMED-CT" and self.rng.random() < 0.15
        code = ev.code.replace(".", "") if undotted else ev.code
        stamp = self.timestamps and self.rng.random() < 0.4
        clock = f"{self.rng.randint(8, 17):02d}:{self.rng.randrange(0, 60, 5):02d}" if stamp else ""
        recorded = self.when(ev.day, clock)
        resolved = "" if ev.resolved is None else iso_day(ev.resolved)
        values = (self.pid, code, ev.system, recorded, resolved)
        return OutRow("diagnoses.csv", (self.pid, recorded), values)


def birth_for_age(rng: random.Random, age: int) -> date:
    """A birth date giving exactly ``age`` completed years on the export date."""
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    year = AS_OF.year - age - (1 if (month, day) > (AS_OF.month, AS_OF.day) else 0)
    return date(year, month, day)


# --------------------------------------------------------------------------- deliberately bad rows


def bad_rows(hosts: Sequence[str]) -> list[OutRow]:
    """One row per rule the ingest must catch, on background patients whose flags cannot change.

    Why these hosts: they take no diuretic, insulin, NSAID or neuropathic-pain drug and have no
    cramp or numbness, so whether or not a bad row loads, no check's answer for them moves.
    The rule hints use the ingest's rule names (column:rule). A value with digits that is not a
    number ('6,2', a decimal comma) is rejected; text with no digit ('haemolysed') is not: it loads
    as a test without a result, so it is planted as a scenario instead.
    """
    h = list(hosts)

    def lab(
        i: int,
        when: str,
        loinc: str,
        name: str,
        value: str,
        unit: str,
        bad: tuple[str, str],
        pid: str | None = None,
    ) -> OutRow:
        values = (h[i] if pid is None else pid, when, loinc, name, value, unit)
        return OutRow("labs.csv", (h[i], when), values, bad)

    def rx(i: int, drug: str, start: str, end: str, days: str, bad: tuple[str, str]) -> OutRow:
        d = DRUGS[drug]
        return OutRow(
            "prescriptions.csv", (h[i], start), (h[i], d.name, d.rxcui, d.atc, start, end, days), bad
        )

    def dx(i: int, code: str, system: str, day: int, bad: tuple[str, str]) -> OutRow:
        return OutRow("diagnoses.csv", (h[i], iso_day(day)), (h[i], code, system, iso_day(day), ""), bad)

    return [
        lab(0, iso_day(-200), "2345-7", "Glucose", "6,2", "mmol/L", ("value", "numeric")),
        lab(1, iso_day(-150), "2823-3", "Potassium", "45", "mmol/L", ("value", "plausible")),
        lab(2, iso_day(-90), "2823-4", "Potassium", "4.2", "mmol/L", ("loinc_code", "check_digit")),
        lab(3, "2027-01-05T09:30:00", "2951-2", "Sodium", "140", "mmol/L",
            ("collected_at", "date_range")),
        lab(4, iso_day(-60), "1742-6", "ALT", "23", "U/L", ("patient_id", "required"), pid=""),
        rx(5, "omeprazole", iso_day(-300), "", "-30", ("days_supply", "positive_integer")),
        rx(6, "amlodipine", iso_day(-100), iso_day(-130), "", ("end_date", "after_start")),
        rx(7, "metformin", "2025-02-30", "", "", ("start_date", "format")),
        dx(8, "250.00", "ICD-10-CM", -400, ("code", "format")),
        dx(9, "K86", "ICPC-2", -350, ("code_system", "allowed")),
    ]  # fmt: skip


def quiet_host(bg: Background) -> bool:
    """A background patient whose audit answers cannot depend on any lab or drug row."""
    drugs = {ev.drug for ev in bg.events if isinstance(ev, Rx)}
    return not drugs & GUARDED


# --------------------------------------------------------------------------- assembling the export


@dataclass(frozen=True)
class Export:
    """The rows of every file (sorted) and who is who, for the checks against the plan."""

    rows: dict[str, list[OutRow]]
    planted: dict[str, Scenario]
    background: dict[str, Background]


def build_export(seed: int, n_patients: int) -> Export:
    """Plant the scenarios among background patients, render everyone, add the bad rows.

    The main draw (the first scenarios shuffled among background patients, then the bad rows)
    uses the seed's stream exactly as it did before the appended scenarios existed; those follow
    as the last patients with a stream of their own, and so do the vital-sign rows; the issue #15
    patients come last with a third stream, so that adding them moved nothing drawn before.
    """
    rng = random.Random(seed)
    scenarios = all_scenarios()
    late = appended_scenarios()
    last = issue15_scenarios()
    main_count = n_patients - len(late) - len(last)
    if main_count < len(scenarios) + 10:
        raise SystemExit(f"--patients must be at least {len(scenarios) + len(late) + len(last) + 10}")
    slots: list[Scenario | None] = [*scenarios, *([None] * (main_count - len(scenarios)))]
    rng.shuffle(slots)
    out: list[OutRow] = []
    planted: dict[str, Scenario] = {}
    background: dict[str, Background] = {}
    for number, slot in enumerate(slots, start=1):
        pid = f"P{number:04d}"
        if slot is None:
            bg = make_background(rng)
            background[pid] = bg
            out += patient_rows(pid, bg.age, bg.sex, bg.creatinine, bg.events, rng)
        else:
            planted[pid] = slot
            out += planted_rows(pid, slot, rng)
    out += bad_rows(pick_hosts(rng, background))
    extra = random.Random(f"{seed}/appended")
    for number, scenario in enumerate(late, start=main_count + 1):
        pid = f"P{number:04d}"
        planted[pid] = scenario
        out += planted_rows(pid, scenario, extra)
    out += vital_rows(extra, background)
    newest = random.Random(f"{seed}/issue15")
    for number, scenario in enumerate(last, start=main_count + len(late) + 1):
        pid = f"P{number:04d}"
        planted[pid] = scenario
        out += planted_rows(pid, scenario, newest)
    rows: dict[str, list[OutRow]] = {name: [] for name in HEADERS}
    for row in out:
        rows[row.file].append(row)
    return Export(
        {name: sorted(r, key=lambda o: (o.key, o.values)) for name, r in rows.items()}, planted, background
    )


def planted_rows(pid: str, scenario: Scenario, rng: random.Random) -> list[OutRow]:
    """A planted patient's rows: sex and kidneys drawn, the rest as the scenario says."""
    sex = rng.choice("FM")
    creat = baseline_creatinine(rng, scenario.age, sex)
    death = "" if scenario.death is None else iso_day(scenario.death)
    return patient_rows(
        pid, scenario.age, sex, creat, scenario.events, rng, scenario.birth, death, scenario.deceased
    )


def patient_rows(
    pid: str,
    age: int,
    sex: str,
    creatinine: float,
    events: Iterable[Event],
    rng: random.Random,
    birth: date | None = None,
    death: str = "",
    deceased: str = "",
) -> list[OutRow]:
    """The patients.csv row and every event row of one patient."""
    born = birth or birth_for_age(rng, age)
    values = (pid, born.isoformat(), sex, death, deceased)
    return [
        OutRow("patients.csv", (pid, ""), values),
        *PatientWriter(pid, age, sex, creatinine, rng).rows(events),
    ]


def vital_rows(rng: random.Random, background: dict[str, Background], patients: int = 12) -> list[OutRow]:
    """Weight, BMI and blood pressure in labs.csv for some background patients, as EHRs export them.

    Why: they are observations, not labs; they load as labs no check uses, and change no answer.
    They come from another source than the patient's laboratory, so another writer renders them.
    """
    rows: list[OutRow] = []
    for pid in rng.sample(sorted(background), patients):
        bg = background[pid]
        writer = PatientWriter(pid, bg.age, bg.sex, bg.creatinine, rng)
        for day in sorted(rng.sample(range(FIRST_DAY, -3), rng.randint(1, 3))):
            rows += writer.rows(tests(day, *VITALS))
    return rows


def pick_hosts(rng: random.Random, background: dict[str, Background]) -> list[str]:
    """Ten distinct quiet background patients; the ICD-9-as-ICD-10 slip goes to a diabetic."""
    quiet = sorted(pid for pid, bg in background.items() if quiet_host(bg))
    hosts = rng.sample(quiet, 10)
    diabetic = [pid for pid in quiet if "dm" in background[pid].conditions and pid not in hosts]
    if diabetic:
        hosts[8] = rng.choice(diabetic)
    return hosts


def write_export(export: Export, folder: Path) -> None:
    """Write the four CSV files: UTF-8, comma, LF line ends, header first."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        write_csv(folder / name, header, [row.values for row in export.rows[name]])


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """One CSV file, written the same way every time so that output is byte-identical."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def planted_quarantine(export: Export) -> list[tuple[str, int, str, str]]:
    """(file, physical line, column, rule) of every deliberately bad row; the header is line 1."""
    found = []
    for name, rows in export.rows.items():
        for index, row in enumerate(rows):
            if row.bad:
                found.append((name, index + 2, row.bad[0], row.bad[1]))
    return sorted(found)
