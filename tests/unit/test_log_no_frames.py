"""A library's record logged with an exception (py4j logs a dying JVM's connection errors with
exc_info) shows no traceback on stderr, even at -v: the exception's type on one line."""

from __future__ import annotations

import logging
import sys

import pytest

from pipelines import logs


def test_a_third_partys_exception_prints_one_line_not_its_frames(capsys: pytest.CaptureFixture) -> None:
    logs.configure(logging.DEBUG)
    try:
        raise ConnectionResetError("P0042 said")
    except ConnectionResetError:
        logging.getLogger("py4j.clientserver").warning("Error while sending or receiving.", exc_info=True)
    err = capsys.readouterr().err
    logging.basicConfig(force=True)
    assert "Error while sending or receiving." in err
    assert "Traceback" not in err and "P0042" not in err
    assert "builtins.ConnectionResetError; traceback withheld" in err


def test_a_traceback_another_formatter_cached_on_the_record_is_not_printed(capsys) -> None:
    logs.configure(logging.DEBUG)
    try:
        raise ConnectionResetError("P0042 said")
    except ConnectionResetError:
        record = logging.getLogger("py4j.clientserver").makeRecord(
            "py4j.clientserver", logging.WARNING, __file__, 1, "Error while sending.", (), sys.exc_info()
        )
    logging.Formatter().format(record)  # a handler before ours caches the full traceback
    assert "Traceback" in record.exc_text
    logs.stderr_handler().handle(record)
    err = capsys.readouterr().err
    logging.basicConfig(force=True)
    assert "Error while sending." in err and "Traceback" not in err and "P0042" not in err
