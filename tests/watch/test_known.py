"""The --known-routers list: what a [[router]] table may hold, and the one-line reasons."""

from __future__ import annotations

import pytest

from vrrpwatch.watch.known import KnownRouters


def one(body: str) -> KnownRouters:
    return KnownRouters.from_toml("[[router]]\n" + body)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("02:00:5E:00:01:01", "02:00:5e:00:01:01"),
        ("02-00-5e-00-01-01", "02:00:5e:00:01:01"),
        ("0200.5e00.0101", "02:00:5e:00:01:01"),
        ("02005e000101", "02:00:5e:00:01:01"),
    ],
)
def test_mac_spellings_are_normalised_to_the_wire_form(written: str, stored: str) -> None:
    known = one(f'address = "192.0.2.1"\nmac = "{written}"\n')
    assert known.routers["192.0.2.1"].mac == stored
    assert known.allows("192.0.2.1", "02:00:5e:00:01:01", 1)
    assert not known.allows("192.0.2.1", "02:00:5e:00:01:02", 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('address = "192.0.2.1"\nmac = "zz:00:5e:00:01:01"\n', "router #1: mac: expected a MAC"),
        ('address = "192.0.2.1"\nmac = "02:00:5e:00:01"\n', "router #1: mac: expected a MAC"),
        ('address = "192.0.2.1"\nmac = "02:00:5e-00:01:01"\n', "router #1: mac: expected a MAC"),
        ('address = "192.0.2.1"\nmac = 1\n', "router #1: mac: expected a MAC"),
        # true is an int in Python: it must not read as VRID 1.
        ('address = "192.0.2.1"\nvrids = [true, 2]\n', "router #1: vrids: expected a list"),
        # 0 is an HSRP group (issue 15); 4096 is beyond HSRPv2's 12 bits, -1 is no id
        ('address = "192.0.2.1"\nvrids = [4096]\n', "router #1: vrids: expected a list"),
        ('address = "192.0.2.1"\nvrids = [-1]\n', "router #1: vrids: expected a list"),
        ('address = "192.0.2.1"\nvrids = 1\n', "router #1: vrids: expected a list"),
        ('address = "fe80::1%eth0"\n', "router #1: address: 'fe80::1%eth0' has a zone index"),
        ("address = 192\n", "router #1: address: expected a string"),
        ('address = "192.0.2.300"\n', "router #1: address: not an IP address"),
        ('mac = "02:00:5e:00:01:01"\n', "router #1: 'address' is required"),
    ],
)
def test_a_bad_field_is_named(body: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as exc:
        one(body)
    assert "\n" not in str(exc.value)


def test_deep_nesting_is_a_value_error() -> None:
    # tomllib recurses per nesting level: 100,000 brackets exhaust the stack.
    with pytest.raises(ValueError, match="nested too deeply"):
        KnownRouters.from_toml("x = " + "[" * 100_000 + "]" * 100_000 + "\n")


def test_a_zone_less_link_local_address_is_fine() -> None:
    known = one('address = "FE80::1"\nvrids = [1, 2]\n')
    assert known.allows("fe80::1", None, 2)
    assert not known.allows("fe80::1", None, 3)
