"""The patient id read from a record the reader could not read (RawSource.patient_of): the first
fields of a line cut short or broken by a stray quote, and the id of a FHIR Patient cut off
mid-resource. What it cannot make out is None, never a guess from another field."""

from __future__ import annotations

import json

import pytest

from pipelines.csv_tables import field_of
from pipelines.formats.fhir import patient_in


@pytest.mark.parametrize(
    ("line", "index", "width", "delimiter", "expected"),
    [
        ("G2,1950-01-01,M", 0, 6, ",", "G2"),  # cut short after the sex
        ('"G 4",1950-01-01,M,"2026-10-01,,', 0, 6, ",", "G 4"),  # a stray quote further on
        ("1950-01-01;G7;", 1, 6, ";", "G7"),  # the id's column is wherever the header puts it
        ("S01,1950-02-03,2026-10-05,999-10-1001,S9991", 0, 28, ",", "S01"),
        ("10000001,M,61,2180,2011 - 20", 0, 6, ",", "10000001"),
        ("\nG2,1950-01-01,M\r\n", 0, 6, ",", "G2"),  # DuckDB's text of a CRLF file's line
        ("P1", 0, 6, ",", None),  # cut inside the id ('P123'): it would name another patient
        ("1950-01-01,F,P12", 2, 6, ",", None),  # the id last on a cut line: maybe cut too
        ("1950-01-01,F,P123", 2, 3, ",", "P123"),  # last on a line of the file's full width: whole
        ('1950-01-01,F,"2026-10-01,,G1', 4, 5, ",", "G1"),  # the quote swallows the id: split
        ('"G1,1950-01-01,F', 0, 5, ",", "G1"),  # the quote opens the id itself
        ('"G,1",1950-01-01,F', 0, 6, ",", "G,1"),  # a quoted id holding the delimiter is one id
        ('"G;1";1950-01-01;F', 0, 6, ";", "G;1"),
        ('"Smith, J",P1', 1, 6, ",", None),  # cut inside the id, after a quoted field
        ('"Smith, J",P1,"x', 1, 6, ",", None),  # a quote before the id, quotes broken: which field?
        ('1950-01-01,F,"2026-10-01,,,G1', 5, 6, ",", "G1"),  # full width once split
        ("G2", 3, 6, ",", None),  # the line ends before the column
        ("", 0, 6, ",", None),
    ],
)
def test_field_of_a_broken_line(line, index, width, delimiter, expected):
    assert field_of(index, width, delimiter)(line) == expected


def test_an_unquoted_file_reads_a_quote_as_a_character():
    assert field_of(0, 7, "\t", quoted=False)('1"\t8532\t19') == '1"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"resourceType": "Patient", "id": "p1", "birthDate": "1951-03-01", "deceasedDateTime": "2026-0',
            "p1",
        ),
        ('{"id":"a-1.b","resourceType":"Patient","meta":{"versionId":"2"},"gender":"ma', "a-1.b"),
        ('{"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p2"}', None),
        ('{"resourceType": "Patient", "birthDate": "1951-03-01", "gen', None),  # cut before its id
        ('{"resourceType": "Patient", "id": "not an id!", "gen', None),  # no FHIR id
        (json.dumps({"resourceType": "Observation", "id": "p2"}), None),  # valid JSON: another type
        # a whole Patient: quarantined for what its kept text leaves out (NULs) or a lone surrogate
        (json.dumps({"resourceType": "Patient", "id": "p3", "gender": "female"}), "p3"),
        (json.dumps({"resourceType": "Patient", "gender": "female"}), None),  # no id
        (json.dumps({"resourceType": "Patient", "id": 7}), None),  # no id as text
        ("[" * 10, None),
        ("[" * 5000 + "1" + "]" * 5000, None),  # valid JSON nested too deeply for Python's reader
        ('{"resourceType": "Patient", "id": "p9", "x": ' + "[" * 5000 + "]" * 5000 + "}", "p9"),
    ],
)
def test_patient_in_a_fhir_line(text, expected):
    assert patient_in(text) == expected
