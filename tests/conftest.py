"""Shared pytest configuration.

Integration tests (marker ``integration``) need root, network namespaces and the lab's Debian
packages. On a developer machine without them they skip with the reason; when the ``CI``
environment variable is set a missing prerequisite fails the run instead (DEVELOPERS.md).

The paths and ``lab_unavailable`` live in tests/helpers.py (import them from there); they are
re-exported here for the test files that still import them from conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CAPTURES, PUBLIC_CAPTURES, ROOT, lab_unavailable

__all__ = ["CAPTURES", "PUBLIC_CAPTURES", "ROOT", "lab_unavailable"]


@pytest.fixture(scope="session")
def public_captures() -> Path:
    """The third-party captures bundled in tests/data/public (part of the repository)."""
    if not (PUBLIC_CAPTURES / "MANIFEST.md").is_file():
        pytest.fail(f"public captures missing from the repository: {PUBLIC_CAPTURES}")
    return PUBLIC_CAPTURES
