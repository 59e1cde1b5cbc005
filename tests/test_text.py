"""One way to write a time (vrrpwatch/times.py) and a VLAN stack (vrrpwatch/text.py)."""

from __future__ import annotations

import time

import pytest

from vrrpwatch.text import vlan_label
from vrrpwatch.times import format_time

T = 1764581560.123456  # 2025-12-01 09:32:40.123456 UTC


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("ms", "2025-12-01 09:32:40.123"),
        ("us", "2025-12-01 09:32:40.123456"),
        ("iso", "2025-12-01T09:32:40.123456+00:00"),
    ],
)
def test_utc_styles(style: str, text: str) -> None:
    assert format_time(T, style) == text  # type: ignore[arg-type]


def test_syslog_style_is_local_time_like_keepalived(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert format_time(T, "syslog") == "Mon Dec 01 10:32:40.123"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_no_time() -> None:
    assert format_time(None) == "-"


@pytest.mark.parametrize(
    ("vlans", "human", "column"),
    [((), "-", ""), ((10,), "10", "10"), ((100, 20), "100.20", "100.20")],
)
def test_vlan_label(vlans: tuple[int, ...], human: str, column: str) -> None:
    assert vlan_label(vlans) == human
    assert vlan_label(list(vlans), untagged="") == column
