"""file_fault: the one place that names why an export file cannot be read, quoting nothing of it."""

from __future__ import annotations

import gzip
import struct
import zlib

import pytest

from pipelines.errors import READ_ERRORS, file_fault

SECRET = b"P0001,Jane Doe,1950-01-01\n" * 50


def _read(data: bytes, tmp_path) -> BaseException:
    path = tmp_path / "labs.csv.gz"
    path.write_bytes(data)
    with pytest.raises(READ_ERRORS) as caught, gzip.open(path, "rb") as handle:
        handle.read()
    return caught.value


def _bad_crc(data: bytes) -> bytes:
    crc = struct.unpack("<I", data[-8:-4])[0] ^ 1
    return data[:-8] + struct.pack("<I", crc) + data[-4:]


@pytest.mark.parametrize(
    ("damage", "meaning"),
    [
        (lambda gz: gz[: len(gz) // 2], "a truncated or damaged gzip file"),
        (_bad_crc, "a truncated or damaged gzip file"),
        (lambda gz: gz[:12] + bytes(64) + gz[76:], "a truncated or damaged gzip file"),
        (lambda gz: SECRET, "not a gzip file"),
    ],
    ids=["truncated", "bad-crc", "corrupt-stream", "plain-text"],
)
def test_each_damage_is_named_and_nothing_of_the_file_is_quoted(tmp_path, damage, meaning):
    error = _read(damage(gzip.compress(SECRET)), tmp_path)
    assert file_fault(error) == meaning
    assert "Jane" not in file_fault(error) and "P0001" not in file_fault(error)


def test_an_operating_system_error_keeps_its_reason_and_a_bare_one_says_io_error():
    assert file_fault(PermissionError(13, "Permission denied")) == "Permission denied"
    assert file_fault(OSError()) == "I/O error"
    assert file_fault(zlib.error("invalid stored block lengths")) == "a truncated or damaged gzip file"
