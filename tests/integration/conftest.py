"""Fixtures for integration tests against real peers in network namespaces (tests/lab.py).

``lab`` gives a fresh :class:`tests.lab.Lab` (its own ``vwa<hex>`` prefix) and tears it down
whatever the test does; ``frr_lab`` does the same but also requires FRR. Without root or the
Debian packages they skip, or fail when ``CI`` is set (``tests.conftest.lab_unavailable``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import lab_unavailable  # noqa: E402
from tests.lab import Lab, missing_prerequisites  # noqa: E402


def _make_lab(tmp_path: Path, *, frr: bool) -> Iterator[Lab]:
    missing = missing_prerequisites(frr=frr)
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A fresh lab with guaranteed teardown (namespaces deleted, processes stopped)."""
    yield from _make_lab(tmp_path, frr=False)


@pytest.fixture
def frr_lab(tmp_path: Path) -> Iterator[Lab]:
    """Like ``lab``, for tests that also start FRR's vrrpd."""
    yield from _make_lab(tmp_path, frr=True)
