"""The seeded synthetic clinic behind sample_data/: one module per role.

``shared`` (as-of date, check ids, file headers) -> ``events`` (how tests and drugs appear, the
events a patient is made of) -> ``scenarios`` (the planted patients, one function per check) and
``background`` (ordinary patients who trigger nothing) -> ``export`` (the rows and CSV files).
``oracle_read`` and ``oracle`` re-read the written files independently (they import only ``shared``,
never the writer, never checks/) to derive the expected flags. ``sample_data/generate.py`` is the
command line that runs them in that order. Standard library only; not part of the installed tool.
"""
