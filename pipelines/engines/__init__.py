"""Query engines other than DuckDB that the checks can run on (the `engine` setting).

DuckDB stays the database of record (the run record, findings, reports); another engine holds the
data tables and evaluates the checks, translated from their one DuckDB source (checks/translate.py).
"""
