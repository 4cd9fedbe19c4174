"""Audit checks derived from the cramps-and-numbness guideline, and their codelists.

One check = one definition module plus one SQL file in `checks/sql/`; codelists are CSV files in
`checks/codelists/`. This package reads the database; it never imports `reports`.
"""
