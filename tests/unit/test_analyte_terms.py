"""pipelines/reference/analyte_terms.csv: the words the coverage diagnostic judges lab names by."""

from __future__ import annotations

import csv
import re

from pipelines.codelists import shipped_analytes
from pipelines.db import REFERENCE_DIR


def test_every_term_names_a_shipped_analyte_in_the_matcher_s_own_form():
    with (REFERENCE_DIR / "analyte_terms.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["analyte", "term", "match"]
    for row in rows:
        assert row["analyte"] in shipped_analytes(), row
        assert re.fullmatch(r"[a-z0-9]+", row["term"]), row  # a word of the normalised name
        assert row["match"] in {"part", "word", "alone"}, row
    # one- to three-letter abbreviations (k, na, ca, mg, alt) are never matched inside other words
    assert all(row["match"] != "part" or len(row["term"]) >= 3 for row in rows)
    # every analyte is named by some term: its own, or (calcium_corrected) the analyte it refines
    covered = {row["analyte"] for row in rows}
    assert all(a in covered or a.split("_")[0] in covered for a in shipped_analytes())
