"""Garbage in, DecodeError (or None) out: never any other exception.

Hypothesis feeds random bytes to every parser and mutates real packets: the frames of the public
captures that decode as ours, and frames built from our own builders (always available).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissectors.arp import build_arp, gratuitous_arp, parse_arp
from dissectors.common import DecodeError
from dissectors.frame import LinkType, build_ethernet, parse_link
from dissectors.ip import (
    IPv4Header,
    IPv6Header,
    build_ipv4,
    build_ipv6,
    parse_ah,
    parse_ipv4,
    parse_ipv6,
)
from dissectors.nd import build_na, parse_na, unsolicited_na
from dissectors.packet import Decoded, Kind, decode_packet
from dissectors.packet import _decode as _decode_slow
from dissectors.vrrp import VrrpV2, VrrpV3, build_vrrp, parse_carp, parse_vrrp
from tests.crafted import EMPTY_VRRP_FRAME
from tests.helpers import CAPTURES
from vrrpwatch.pcap import iter_capture

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
LINKTYPES = [int(t) for t in LinkType]
FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Frames = Callable[[str], list[tuple[int, int, bytes]]]


def _decode(data: bytes, linktype: int) -> Decoded | None:
    try:
        return decode_packet(data, linktype)
    except DecodeError:
        return None


def _own_frames() -> list[tuple[int, bytes]]:
    s4, g4, s6, g6 = V4("192.0.2.10"), V4("224.0.0.18"), V6("fe80::1"), V6("ff02::12")
    mac = bytes.fromhex("00005e000101")
    v2 = VrrpV2(
        vrid=1,
        priority=100,
        count_ip_addrs=2,
        auth_type=1,
        auth_data=b"pass\0\0\0\0",
        addresses=(V4("192.0.2.1"), V4("192.0.2.2")),
    )
    v3 = VrrpV3(vrid=2, priority=100, count_ip_addrs=1, addresses=(V6("2001:db8::1"),), family=6)
    h4 = IPv4Header(src=s4, dst=g4, protocol=112)
    h6 = IPv6Header(src=s6, dst=g6, next_header=112)
    na_h = IPv6Header(src=s6, dst=V6("ff02::1"), next_header=58)
    na = build_na(unsolicited_na(mac, V6("2001:db8::1")), src=s6, dst=V6("ff02::1"))
    return [
        (
            1,
            build_ethernet(
                mac, mac, 0x0800, build_ipv4(h4, build_vrrp(v2, src=s4, dst=g4)), vlans=(10, 20)
            ),
        ),
        (1, build_ethernet(mac, mac, 0x86DD, build_ipv6(h6, build_vrrp(v3, src=s6, dst=g6)))),
        (1, build_ethernet(mac, mac, 0x86DD, build_ipv6(na_h, na))),
        (
            1,
            build_ethernet(
                mac,
                mac,
                0x0806,
                build_arp(gratuitous_arp(mac, V4("192.0.2.1"))),
            ),
        ),
        (
            113,
            bytes.fromhex("0002000100060000")
            + mac
            + bytes.fromhex("8100000a0800")
            + build_ipv4(h4, build_vrrp(v2, src=s4, dst=g4)),
        ),
        (
            276,
            bytes.fromhex("86dd00000000000300010206")
            + mac
            + b"\0\0"
            + build_ipv6(h6, build_vrrp(v3, src=s6, dst=g6)),
        ),
        (101, build_ipv6(na_h, na)),
        (0, b"\x02\0\0\0" + build_ipv4(h4, build_vrrp(v2, src=s4, dst=g4))),
    ]


OWN = _own_frames()


def _mutations(frames: list[tuple[int, bytes]]) -> st.SearchStrategy[tuple[int, bytes]]:
    @st.composite
    def mutate(draw: st.DrawFn) -> tuple[int, bytes]:
        linktype, data = draw(st.sampled_from(frames))
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
            pos = draw(st.integers(0, max(len(buf) - 1, 0)))
            if op == "flip" and buf:
                buf[pos] ^= 1 << draw(st.integers(0, 7))
            elif op == "set" and buf:
                buf[pos] = draw(st.integers(0, 255))
            elif op == "cut":
                del buf[pos:]
            elif op == "insert":
                buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
            elif op == "delete" and buf:
                del buf[pos : pos + draw(st.integers(1, 8))]
        return linktype, bytes(buf)

    return mutate()


def test_own_frames_decode() -> None:
    kinds = [d.kind for d in (decode_packet(data, lt) for lt, data in OWN) if d is not None]
    assert kinds == [
        Kind.VRRP,
        Kind.VRRP,
        Kind.NA,
        Kind.GARP,
        Kind.VRRP,
        Kind.VRRP,
        Kind.NA,
        Kind.VRRP,
    ]


@FUZZ
@given(data=st.binary(max_size=200), linktype=st.sampled_from(LINKTYPES))
def test_random_bytes_decode_packet(data: bytes, linktype: int) -> None:
    _decode(data, linktype)


@FUZZ
@given(data=st.binary(max_size=120), six=st.booleans())
def test_random_bytes_parsers(data: bytes, six: bool) -> None:
    src, dst = (V6("fe80::1"), V6("ff02::12")) if six else (V4("192.0.2.1"), V4("224.0.0.18"))
    for parse in (
        lambda: parse_vrrp(data, src=src, dst=dst),
        lambda: parse_carp(data),
        lambda: parse_arp(data),
        lambda: parse_na(data, src=V6("fe80::1"), dst=V6("ff02::1")),
        lambda: parse_ipv4(data),
        lambda: parse_ipv6(data),
        lambda: parse_ah(data),
        lambda: parse_link(data, LinkType.ETHERNET),
    ):
        try:
            parse()
        except DecodeError:
            pass


@FUZZ
@given(sample=_mutations(OWN))
def test_mutated_own_frames(sample: tuple[int, bytes]) -> None:
    _decode(sample[1], sample[0])


# Captures whose frames include ours; the well-formed ones and the fuzzed ones alike.
SOURCES = [
    "vrrp.pcap",
    "vrrp3.pcapng",
    "VRRP-V2.pcap",
    "VRRP-V3-IPv6.pcap",
    "pbb.pcap",
    "linuxsll-arp.pcap",
    "icmp_dot1q.pcap",
    "suricata-verify_smb2-ntlmssp-negotiateflags_input.pcap",
    "vrrp-vrrp_print-oobr.pcap",
    "icmp-icmp_print-oobr-1.pcap",
]


# The project's recordings of real routers (captures/): a failover contest, GARPs from the
# virtual MAC.
LAB_SOURCES = ["v2-three-routers.pcap", "vmac.pcap", "v2-failover.pcap"]


@pytest.fixture(scope="module")
def real_frames(frames: Frames) -> list[tuple[int, bytes]]:
    out = []
    lab = [(p.frame, p.linktype, p.data) for n in LAB_SOURCES for p in iter_capture(CAPTURES / n)]
    for _n, lt, data in [f for name in SOURCES for f in frames(name)] + lab:
        if _decode(data, lt) is not None:
            out.append((lt, data[:160]))
    return out


def test_mutated_real_frames(real_frames: list[tuple[int, bytes]]) -> None:
    assert len(real_frames) > 200

    @FUZZ
    @given(sample=_mutations(real_frames))
    def check(sample: tuple[int, bytes]) -> None:
        _decode(sample[1], sample[0])

    check()


# What the malformed and fuzzed public captures must give (frame -> error text or findings).
MALFORMED = {
    "fuzz-2020-02-16-11740.pcap": {161: "unknown version 7"},
    "icmp-icmp_print-oobr-1.pcap": {2: "VRRPv3 with 4 addresses"},
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_public_captures(frames: Frames, name: str) -> None:
    errors = {}
    for n, lt, data in frames(name):
        try:
            decode_packet(data, lt)
        except DecodeError as exc:
            errors[n] = str(exc)
    assert errors.keys() == MALFORMED[name].keys()
    for n, text in MALFORMED[name].items():
        assert text in errors[n]


def test_empty_vrrp_payload_is_malformed() -> None:
    # tests/crafted.py: IP protocol 112, no payload, TTL 5 (tshark: an IPv4 frame with nothing
    # after the header, test_tshark_crosscheck.py)
    with pytest.raises(DecodeError, match="need 1 bytes, have 0"):
        decode_packet(EMPTY_VRRP_FRAME, 1)


def test_every_public_capture_decodes_without_crash(public_captures: Path) -> None:
    """Each frame of each public capture is None, Decoded or a DecodeError (the fuzzed
    tcpdump files included); nothing else escapes."""
    seen = 0
    for path in sorted(public_captures.iterdir()):
        if path.suffix not in (".pcap", ".cap", ".pcapng"):
            continue
        for p in iter_capture(path):
            _decode(p.data, p.linktype)
            seen += 1
    assert seen > 10000


def _slow(data: bytes, linktype: int) -> object:
    try:
        return _decode_slow(data, linktype)
    except DecodeError as exc:
        return type(exc)


def _fast(data: bytes, linktype: int) -> object:
    try:
        return decode_packet(data, linktype)
    except DecodeError as exc:
        return type(exc)


def test_fast_reject_never_drops_ours(public_captures: Path) -> None:
    """decode_packet's byte-compare prefilter agrees with the full decoder on every frame."""
    checked = 0
    for path in sorted(public_captures.iterdir()):
        if path.suffix not in (".pcap", ".cap", ".pcapng"):
            continue
        for p in iter_capture(path):
            assert _fast(p.data, p.linktype) == _slow(p.data, p.linktype), (path.name, p.frame)
            checked += 1
    assert checked > 10000


@FUZZ
@given(sample=_mutations(OWN))
def test_fast_reject_agrees_on_mutations(sample: tuple[int, bytes]) -> None:
    assert _fast(sample[1], sample[0]) == _slow(sample[1], sample[0])


@FUZZ
@given(data=st.binary(max_size=120), linktype=st.sampled_from(LINKTYPES))
def test_fast_reject_agrees_on_random_bytes(data: bytes, linktype: int) -> None:
    assert _fast(data, linktype) == _slow(data, linktype)
