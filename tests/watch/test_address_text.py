"""``address_text`` (the monitor's text of an advert's addresses, through inet_ntop) is exactly
``str`` of the address, for every IPv4 and IPv6 address; ``format_mac`` (through bytes.hex) is
the two-digit, colon-separated form."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from dissectors.frame import format_mac
from vrrpwatch.watch.model import address_text

# zero runs of every length and place, embedded IPv4 (mapped, compatible), scoped addresses
_SPECIAL = [
    "::", "::1", "::2", "1::", "1:0:0:1:0:0:0:1", "1:0:1:0:1:0:1:0", "0:0:1:0:0:1:0:0",
    "2001:db8::1:0:0:1", "2001:db8:0:0:1::1", "fe80::1:0:0", "::ffff:192.0.2.1",
    "::192.0.2.1", "::ffff:0:192.0.2.1", "64:ff9b::192.0.2.1", "fe80::1%eth0",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0:1::", "::1:0:0:0:0:0:0",
]  # fmt: skip


def test_special_ipv6_addresses() -> None:
    for text in _SPECIAL:
        addr = ipaddress.IPv6Address(text)
        assert address_text(addr) == str(addr), text
        assert address_text(addr) == str(addr), text  # the cached answer too


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_every_ipv6_address(value: int) -> None:
    addr = ipaddress.IPv6Address(value)
    assert address_text(addr) == str(addr)


@given(st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x1234]), min_size=8, max_size=8))
def test_ipv6_addresses_with_zero_runs(groups: list[int]) -> None:
    addr = ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))
    assert address_text(addr) == str(addr)


@given(st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_every_ipv4_address(value: int) -> None:
    addr = ipaddress.IPv4Address(value)
    assert address_text(addr) == str(addr)


def test_equal_addresses_of_other_objects() -> None:
    """The cache goes by object identity: another object (a scoped twin) has its own text."""
    plain = ipaddress.IPv6Address("fe80::1")
    scoped = ipaddress.IPv6Address("fe80::1%eth1")
    assert (address_text(plain), address_text(scoped)) == ("fe80::1", "fe80::1%eth1")


@given(st.binary(max_size=8))
def test_format_mac(mac: bytes) -> None:
    assert format_mac(mac) == ":".join(f"{b:02x}" for b in mac)
