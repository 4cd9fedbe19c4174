"""Every code in checks/codelists/*.csv is well formed in its system, and no code sits in two lists
that a check treats as opposites (blood vs urine, topical vs systemic).

A code with a bad check digit is a typo: it matches no real record, so the patient it was meant to
catch is never seen. The validators below are written from the systems' published rules.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pytest

from pipelines.codelists import PERMUTATIONS, loinc_ok, snomed_ok, verhoeff_ok
from pipelines.db import CODELIST_DIR

SYSTEMS = {"ICD-10-CM", "ICD-10", "ICD-9-CM", "SNOMED-CT", "LOINC", "ATC", "RxNorm", "name"}
CODELISTS = sorted(CODELIST_DIR.glob("*.csv"))
LAB_TESTS = CODELIST_DIR / "lab_tests.csv"
DRUG_LISTS = [p for p in CODELISTS if "ingredient" in next(csv.reader(p.open(encoding="utf-8")))]


@cache
def rows(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def all_rows() -> list[tuple[str, dict[str, str]]]:
    return [(p.stem, row) for p in CODELISTS for row in rows(p)]


# --- the validators ---------------------------------------------------------------------------


# The check-digit algorithms are the product's own (pipelines/codelists.py validates local codelists
# with them); the tests below hold them to published codes and tables.


def icd10cm_ok(code: str) -> bool:
    """A category (K74) or a code with the dot and 1-4 more characters (K74.60, S32.001A)."""
    return bool(re.fullmatch(r"[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?", code))


def icd10_who_ok(code: str) -> bool:
    """WHO ICD-10: a category (E11) or a 4-character code with the dot (E11.4); the rows the
    codelists list are WHO codes ICD-10-CM splits further or lacks, so never a CM 5th character."""
    return bool(re.fullmatch(r"[A-Z]\d\d(\.\d)?", code))


def icd9cm_ok(code: str) -> bool:
    """Diagnosis codes: 3-digit category (356) or subcode (356.4, 357.81); V and E codes too."""
    return bool(re.fullmatch(r"(\d{3}|V\d{2})(\.\d{1,2})?|E\d{3}(\.\d)?", code))


def atc_ok(code: str) -> bool:
    """An ATC code at any of its five levels: C, C03, C03C, C03CA, C03CA01."""
    return bool(re.fullmatch(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", code))


def rxnorm_ok(code: str) -> bool:
    return bool(re.fullmatch(r"[1-9]\d{0,7}", code))


def name_ok(code: str, path_stem: str) -> bool:
    if path_stem == "lab_tests":  # matched against the whole lower-cased test name
        return code == code.strip().lower() and "  " not in code and code != ""
    # drug names are matched as whole words/phrases of the normalised drug name (<= 3 words)
    return bool(re.fullmatch(r"[a-z0-9]+( [a-z0-9]+){0,2}", code))


VALIDATORS = {
    "LOINC": lambda code, stem: loinc_ok(code),
    "SNOMED-CT": lambda code, stem: snomed_ok(code),
    "ICD-10-CM": lambda code, stem: icd10cm_ok(code),
    "ICD-10": lambda code, stem: icd10_who_ok(code),
    "ICD-9-CM": lambda code, stem: icd9cm_ok(code),
    "ATC": lambda code, stem: atc_ok(code),
    "RxNorm": lambda code, stem: rxnorm_ok(code),
    "name": name_ok,
}


# --- the validators catch what they should ----------------------------------------------------


@pytest.mark.parametrize("code", ["2823-3", "49765-1", "2828-2", "33914-3", "98979-8", "1-8"])
def test_loinc_check_digit_accepts_real_codes(code):
    assert loinc_ok(code)


@pytest.mark.parametrize("code", ["2828-8", "2823-4", "2823", "28233", "12345678-9", "2823-3 "])
def test_loinc_check_digit_rejects_typos(code):
    assert not loinc_ok(code)


@pytest.mark.parametrize(
    "code",
    ["55300003", "19943007", "404684003", "368581000119106", "10939881000119105", "900000000000207008"],
)
def test_verhoeff_accepts_real_snomed_ids(code):
    assert snomed_ok(code)


@pytest.mark.parametrize(
    # one digit changed, two digits swapped, a description id (partition 01), too short, leading 0
    "code",
    ["55300004", "19943070", "404684013", "55300001", "12345", "055300003"],
)
def test_verhoeff_rejects_typos_and_non_concept_ids(code):
    assert not snomed_ok(code)


def test_verhoeff_tables_are_the_published_ones():
    # The eight permutations are the powers of (1 5 7 6 2 8 3 0 9 4); the 5th row is easy to misremember.
    assert PERMUTATIONS[4] == [9, 4, 5, 3, 1, 2, 6, 8, 7, 0]
    assert PERMUTATIONS[7] == [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]
    assert verhoeff_ok("2363") and not verhoeff_ok("2364")


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (icd10cm_ok, ["K74", "K74.60", "R25.2", "S32.001A"], ["K7460", "k74.6", "K74.", "K74.60123"]),
        (icd9cm_ok, ["356", "356.4", "357.81", "V58.61", "E850.2"], ["3564", "356.", "356.412", "35"]),
        (atc_ok, ["C03", "C03C", "C03CA", "C03CA01", "M"], ["C3", "C03C01", "C03CA1", "c03"]),
        (rxnorm_ok, ["5640", "187832", "1292"], ["05640", "RX5640", ""]),
    ],
)
def test_format_validators(validator, good, bad):
    assert all(validator(code) for code in good)
    assert not any(validator(code) for code in bad)


# --- every shipped code -----------------------------------------------------------------------


@pytest.mark.parametrize("path", CODELISTS, ids=lambda p: p.name)
def test_codelist_header_and_systems(path):
    header = next(csv.reader(path.open(encoding="utf-8")))
    expected = (
        ["code", "system", "description", "analyte", "specimen"]
        if path == LAB_TESTS
        else ["code", "system", "description", "ingredient"]
        if path in DRUG_LISTS
        else ["code", "system", "description"]
    )
    assert header == expected
    assert {row["system"] for row in rows(path)} <= SYSTEMS
    codes = [(row["system"], row["code"]) for row in rows(path)]
    assert len(codes) == len(set(codes)), "a code listed twice in one file"


@pytest.mark.parametrize("path", CODELISTS, ids=lambda p: p.name)
def test_every_code_is_valid_in_its_system(path):
    bad = [
        (row["system"], row["code"])
        for row in rows(path)
        if not VALIDATORS[row["system"]](row["code"], path.stem)
    ]
    assert bad == []


@pytest.mark.parametrize("path", CODELISTS, ids=lambda p: p.name)
def test_every_codelist_has_its_source_recorded(path):
    sources = (CODELIST_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert f"## {path.name}" in sources or f"{path.name} and" in sources or f"and {path.name}" in sources


def test_icd9_category_without_subcode_digits_is_a_real_prefix():
    # "356" matches 356.0-356.9 by prefix; "356.x" or "356.*" would match nothing.
    icd9 = [row["code"] for _, row in all_rows() if row["system"] == "ICD-9-CM"]
    assert icd9 and all(re.fullmatch(r"[0-9VE][0-9.]+", code) for code in icd9)


# --- opposites --------------------------------------------------------------------------------


def normalised(system: str, code: str) -> str:
    return code.strip().lower() if system == "name" else code.strip().upper().replace(".", "")


def codes_of(stem: str) -> set[tuple[str, str]]:
    return {
        (row["system"], normalised(row["system"], row["code"])) for row in rows(CODELIST_DIR / f"{stem}.csv")
    }


def prefix_overlaps(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> set[tuple[str, str, str]]:
    """Codes of `a` and `b` that can match the same record: equal, or (ATC, ICD) one a prefix of the other."""
    hits = set()
    for system, code in a:
        for other_system, other in b:
            if system != other_system:
                continue
            prefix_matched = system in {"ATC", "ICD-10-CM", "ICD-9-CM"}
            if code == other or (prefix_matched and (code.startswith(other) or other.startswith(code))):
                hits.add((system, code, other))
    return hits


def test_topical_and_systemic_nsaid_lists_share_no_code():
    # nsaid_kidney_disease drops anything matching nsaids_topical: a shared code would hide every
    # systemic prescription carrying it.
    assert prefix_overlaps(codes_of("nsaids_topical"), codes_of("nsaids_systemic")) == set()


@pytest.mark.parametrize(
    "stem", ["nsaids_systemic", "diuretics", "statins", "beta_blockers", "insulins", "fall_risk_drugs"]
)
def test_topical_dose_form_words_are_not_systemic_drug_names(stem):
    # A dose-form word in a systemic list would make every "... gel" both systemic and topical.
    assert codes_of("dose_forms_topical") & codes_of(stem) == set()


def test_no_lab_code_or_name_is_both_blood_and_urine_or_two_analytes():
    seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for row in rows(LAB_TESTS):
        key = (row["system"], normalised(row["system"], row["code"]))
        seen.setdefault(key, set()).add((row["analyte"], row["specimen"]))
    assert {key: meaning for key, meaning in seen.items() if len(meaning) > 1} == {}
    assert {row["specimen"] for row in rows(LAB_TESTS)} == {"blood", "urine"}


def test_urine_rows_say_urine():
    # A LOINC row for urine whose description names blood, or the reverse, is a copying slip.
    for row in rows(LAB_TESTS):
        if row["system"] != "LOINC":
            continue
        says_urine = " in Urine" in row["description"]
        assert says_urine == (row["specimen"] == "urine"), row


def test_ophthalmic_beta_blockers_are_not_systemic_beta_blockers():
    # S01ED (glaucoma eye drops) is not C07; the bare name "timolol" would catch every eye drop.
    codes = codes_of("beta_blockers")
    assert not any(system == "ATC" and code.startswith("S01") for system, code in codes)
    assert ("name", "timolol") not in codes and ("name", "timoptic") not in codes


def test_systemic_lists_carry_no_non_systemic_atc_groups():
    # D (dermatological), S (sensory organs) and M02 (topical for joint/muscle pain) are not systemic.
    for stem in ["nsaids_systemic", "diuretics", "statins", "beta_blockers", "insulins"]:
        local = {c for s, c in codes_of(stem) if s == "ATC" and (c[0] in "DS" or c.startswith("M02"))}
        assert local == set(), stem


def test_a_damaged_shipped_codelist_is_refused_not_silently_empty(tmp_path, monkeypatch):
    """One unquoted comma in a description gave a row one field too many; DuckDB's reader then
    guessed another layout for the whole file and cirrhosis matched no code, with exit 0."""
    import shutil

    from pipelines import db
    from pipelines.codelists import codelist_files
    from pipelines.settings import ConfigError

    for path in CODELISTS:
        shutil.copy(path, tmp_path / path.name)
    with (tmp_path / "cirrhosis.csv").open("a", encoding="utf-8") as handle:
        handle.write("X99.9,ICD-10-CM,a description (with, a comma)\n")
    monkeypatch.setattr(db, "CODELIST_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"cirrhosis.csv, line \d+: 4 fields, the header has 3"):
        codelist_files(None)


def test_every_shipped_row_has_its_headers_fields():
    from pipelines.codelists import codelist_files

    assert {f.codelist for f in codelist_files(None) if f.rows > 0} == {p.stem for p in CODELISTS}
