"""The one reader of small operator-named files (configs, password files, known routers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vrrpwatch.smallfile import SmallFileError, read_small_file


def test_reads_at_most_limit_plus_one(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 100)
    assert read_small_file(p, 1000) == b"x" * 100
    assert len(read_small_file(p, 10)) == 11


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d, "is a directory, not a thing"),
        (lambda d: d / "missing", "^No such file or directory"),
        (lambda d: Path("/dev/zero"), "not a regular file"),
    ],
)
def test_what_is_not_read(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(SmallFileError, match=message):
        read_small_file(make(tmp_path), 10, what="thing")  # type: ignore[operator]


def test_a_fifo_without_writer_neither_blocks_nor_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SmallFileError, match="not a regular file"):
        read_small_file(fifo, 10)
