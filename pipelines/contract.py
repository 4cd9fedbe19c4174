"""The generic export format: which files, which columns, which are required.

This is the contract the README documents. Other formats (MIMIC-IV, Synthea, OMOP, FHIR) will be
profiles that produce the same staging tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileSpec:
    """One export file: its table, its columns, and what happens when it is absent."""

    table: str
    file: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    mandatory_file: bool = True
    one_of: tuple[str, ...] = ()  # at least one of these columns must be present

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the staging SQL refers to, required first."""
        return self.required + self.optional


GENERIC_FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "patients",
        "patients.csv",
        ("patient_id", "birth_date", "sex"),
        ("death_date", "deceased"),
        mandatory_file=False,
    ),
    FileSpec(
        "labs",
        "labs.csv",
        ("patient_id", "collected_at", "value"),
        ("loinc_code", "test_name", "unit"),
        one_of=("loinc_code", "test_name"),
    ),
    FileSpec(
        "prescriptions",
        "prescriptions.csv",
        ("patient_id", "drug_name", "start_date"),
        ("rxnorm_code", "atc_code", "end_date", "days_supply"),
    ),
    FileSpec(
        "diagnoses",
        "diagnoses.csv",
        ("patient_id", "code", "code_system", "recorded_at"),
        ("resolved_at",),
    ),
)

# The table each contract table's rows are stored in. `labs` is a view (pipelines/sql/views.sql)
# over `lab_results`, which keeps the results as exported; what they measure is looked up.
STORAGE_TABLE: dict[str, str] = {
    "patients": "patients",
    "labs": "lab_results",
    "prescriptions": "prescriptions",
    "diagnoses": "diagnoses",
}

# Columns stored in each table, and the subset that identifies a row (an exported fact) for
# de-duplication across overlapping nightly exports.
STORED_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", "birth_date", "sex", "death_date", "deceased"),
    "labs": (
        "patient_id",
        "collected_at",
        "loinc_code",
        "test_name",
        "value_original",
        "unit_original",
        "value_comparator",
    ),
    "prescriptions": (
        "patient_id",
        "drug_name",
        "rxnorm_code",
        "atc_code",
        "start_date",
        "end_date",
        "days_supply",
        "end_effective",
    ),
    "diagnoses": (
        "patient_id",
        "code",
        "code_original",
        "code_system",
        "recorded_at",
        "resolved_at",
    ),
}

# The date column that is part of each identity: rows outside a new file's date range cannot be
# duplicates of its rows, so de-duplication only reads that slice of the existing table.
IDENTITY_DATE: dict[str, str] = {
    "patients": "birth_date",
    "labs": "collected_at",
    "prescriptions": "start_date",
    "diagnoses": "recorded_at",
}

# A stored column derived from others is no part of a row's identity: end_effective (from end date or
# days supply) and code_original (the code as written; `code` is its normalised form).
DERIVED_COLUMNS = frozenset({"end_effective", "code_original"})
IDENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(c for c in stored if c not in DERIVED_COLUMNS) for table, stored in STORED_COLUMNS.items()
}

# For each contract column, the staging column holding its text as read (trimmed); quarantined
# rows are shown with these values, in the file's column order.
TEXT_COLUMNS: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "patient_id",
        "birth_date": "birth_date_text",
        "sex": "sex_text",
        "death_date": "death_date_text",
        "deceased": "deceased_text",
    },
    "labs": {
        "patient_id": "patient_id",
        "collected_at": "collected_at_text",
        "loinc_code": "loinc_code",
        "test_name": "test_name",
        "value": "value_text",
        "unit": "unit_original",
    },
    "prescriptions": {
        "patient_id": "patient_id",
        "drug_name": "drug_name",
        "rxnorm_code": "rxnorm_code",
        "atc_code": "atc_code",
        "start_date": "start_date_text",
        "end_date": "end_date_text",
        "days_supply": "days_supply_text",
    },
    "diagnoses": {
        "patient_id": "patient_id",
        "code": "code_original",
        "code_system": "code_system_text",
        "recorded_at": "recorded_at_text",
        "resolved_at": "resolved_at_text",
    },
}
