"""A library's record logged with an exception (py4j logs a dying JVM's connection errors with
exc_info) shows no traceback on stderr, even at -v: the exception's type on one line."""

from __future__ import annotations

import logging

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
