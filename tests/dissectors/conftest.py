"""Helpers for the dissector tests: a reference checksum written independently of
``dissectors.common.inet_checksum``, and the public captures' frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vrrpwatch.pcap import iter_capture


def ref_checksum(data: bytes) -> int:
    """RFC 1071, the plain way: add big-endian 16-bit words, fold the carries, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return 0xFFFF - total


@pytest.fixture
def checksum() -> Callable[[bytes], int]:
    return ref_checksum


def public_frames(directory: Path, name: str) -> list[tuple[int, int, bytes]]:
    """(frame number, link type, bytes) of every frame in a public capture."""
    return [(p.frame, p.linktype, p.data) for p in iter_capture(directory / name)]


@pytest.fixture(scope="session")
def frames(public_captures: Path) -> Callable[[str], list[tuple[int, int, bytes]]]:
    """``frames(name)``: the frames of a public capture (missing captures skip, or fail in CI)."""
    return lambda name: public_frames(public_captures, name)
