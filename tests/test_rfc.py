"""The shared RFC rules (vrrpwatch/rfc.py): one copy for the monitor and the router."""

from __future__ import annotations

import ipaddress

from vrrpwatch.rfc import master_down_interval, outranks, skew_time


def test_skew_and_master_down_interval_v3_and_v2() -> None:
    # RFC 5798 6.1: (256 - 100) * 1 s / 256; RFC 3768 6.1: (256 - 100) / 256 whatever the interval.
    assert skew_time(100, 1.0) == 0.609375
    assert master_down_interval(100, 1.0) == 3.609375
    assert skew_time(100, 2.0, version=2) == 0.609375
    assert master_down_interval(100, 2.0, version=2) == 6.609375


def test_outranks_priority_then_address() -> None:
    assert outranks(101, "192.0.2.1", 100, "192.0.2.9")
    assert not outranks(100, "192.0.2.9", 101, "192.0.2.1")
    # RFC 5798 6.4.3: equal priority, the higher primary address wins (unsigned, network order).
    assert outranks(100, "192.0.2.10", 100, "192.0.2.9")
    assert not outranks(100, "192.0.2.9", 100, "192.0.2.10")
    assert not outranks(100, "192.0.2.9", 100, "192.0.2.9")
    assert outranks(100, ipaddress.ip_address("fe80::2"), 100, ipaddress.ip_address("fe80::1"))
