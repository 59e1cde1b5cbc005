"""Shared pytest configuration.

Integration tests (marker ``integration``) need root, network namespaces and the lab's Debian
packages. On a developer machine without them they skip with the reason; when the ``CI``
environment variable is set a missing prerequisite fails the run instead (DEVELOPERS.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_CAPTURES = ROOT.parent / "shared" / "captures-public"
CAPTURES = ROOT / "captures"


def lab_unavailable(reason: str) -> None:
    """Skip, or fail under CI, because a lab prerequisite is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"lab prerequisite missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def public_captures() -> Path:
    if not PUBLIC_CAPTURES.is_dir():
        lab_unavailable(f"public captures not found at {PUBLIC_CAPTURES}")
    return PUBLIC_CAPTURES
