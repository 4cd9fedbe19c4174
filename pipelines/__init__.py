"""Export files -> validated DuckDB tables; run orchestration; the command line.

The data's path starts here: `ingest` stages each export file through DuckDB's CSV reader, validates
every row with pandera (ibis backend, so the table never leaves DuckDB), quarantines what fails and
loads the rest. `contract` declares each export table once (file, columns, text columns, rules,
storage, identity), `rules` holds the validation rules it names, and `formats` the profiles that
map each export format onto the contract. `run` ties ingest, checks and reports together; `cli` is
the thin Click layer.
"""

__version__ = "0.1.0"

import csv
import warnings

from pipelines.csv_tables import MAX_RECORD_BYTES

# Python's csv module refuses a field over 128 KiB (csv.Error, which reached the user as an internal
# error, exit 1): a header or a review sheet with one long field is bad input, judged like any other
# (exit 3 naming the file). Raised to the longest record the readers take.
csv.field_size_limit(MAX_RECORD_BYTES)

# With the optional Spark engine installed, `import pandera` imports pyspark.pandas, which warns on
# stderr about the pandas version at every start; the engine does not use pyspark.pandas, and a
# scheduler reading stderr should see only the tool's own lines.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
