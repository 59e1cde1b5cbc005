"""ARP (RFC 826, RFC 5227) and Neighbor Advertisements (RFC 4861) from byte vectors."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors.arp import ArpOp, ArpPacket, build_arp, gratuitous_arp, parse_arp
from dissectors.common import DecodeError, Finding, Truncated
from dissectors.frame import BROADCAST_MAC, LinkType, build_ethernet
from dissectors.ip import IPv6Header, build_ipv6
from dissectors.nd import NeighborAdvert, build_na, parse_na, unsolicited_na
from dissectors.packet import Kind, decode_packet

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
VMAC = bytes.fromhex("00005e000101")

# RFC 826: an ARP request announcing 192.0.2.1 from the VRRP virtual MAC (gratuitous).
GARP = bytes.fromhex(
    "0001"  # hardware type Ethernet
    "0800"  # protocol type IPv4
    "06"
    "04"  # lengths
    "0001"  # request
    "00005e000101"  # sender MAC
    "c0000201"  # sender IP 192.0.2.1
    "000000000000"  # target MAC
    "c0000201"  # target IP 192.0.2.1
)


def test_garp_vector() -> None:
    arp = parse_arp(GARP)
    assert arp.oper == ArpOp.REQUEST and arp.sender_mac == VMAC
    assert arp.sender_ip == arp.target_ip == V4("192.0.2.1")
    assert arp.is_gratuitous and arp.is_announcement and not arp.is_probe
    assert gratuitous_arp(VMAC, V4("192.0.2.1")) == arp and build_arp(arp) == GARP
    reply = gratuitous_arp(VMAC, V4("192.0.2.1"), reply=True)
    assert reply.is_gratuitous and not reply.is_announcement and reply.target_mac == VMAC
    frame = build_ethernet(BROADCAST_MAC, VMAC, 0x0806, GARP + bytes(18))  # padded to 60
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.kind is Kind.GARP and d.message == arp and d.ip is None


def test_probe_and_ordinary_arp() -> None:
    # RFC 5227 section 2.1.1: a probe has sender IP 0.0.0.0.
    probe = ArpPacket(
        oper=1, sender_mac=VMAC, sender_ip=V4(0), target_mac=bytes(6), target_ip=V4("192.0.2.7")
    )
    assert probe.is_probe and not probe.is_gratuitous
    d = decode_packet(
        build_ethernet(BROADCAST_MAC, VMAC, 0x0806, build_arp(probe)), LinkType.ETHERNET
    )
    assert d is not None and d.kind is Kind.ARP
    # A reply for 0.0.0.0 from 0.0.0.0 (seen from a Cisco DHCP client) is "gratuitous" by the
    # letter, as Wireshark says too, but announces nothing.
    nothing = ArpPacket(
        oper=2, sender_mac=VMAC, sender_ip=V4(0), target_mac=BROADCAST_MAC, target_ip=V4(0)
    )
    assert nothing.is_gratuitous and not nothing.is_probe and not nothing.is_announcement
    who_has = ArpPacket(
        oper=1,
        sender_mac=VMAC,
        sender_ip=V4("192.0.2.1"),
        target_mac=bytes(6),
        target_ip=V4("192.0.2.2"),
    )
    assert not (who_has.is_gratuitous or who_has.is_probe or who_has.is_announcement)


def test_arp_errors() -> None:
    for n in range(len(GARP)):
        with pytest.raises(Truncated):
            parse_arp(GARP[:n])
    with pytest.raises(DecodeError, match="unsupported"):
        parse_arp(GARP[:4] + b"\x10\x04" + GARP[6:])
    frame = build_ethernet(BROADCAST_MAC, VMAC, 0x0806, GARP[:20])
    with pytest.raises(Truncated):
        decode_packet(frame, LinkType.ETHERNET)


@given(
    oper=st.integers(0, 0xFFFF),
    sha=st.binary(min_size=6, max_size=6),
    tha=st.binary(min_size=6, max_size=6),
    spa=st.integers(0, 2**32 - 1),
    tpa=st.integers(0, 2**32 - 1),
)
def test_arp_roundtrip(oper: int, sha: bytes, tha: bytes, spa: int, tpa: int) -> None:
    arp = ArpPacket(oper=oper, sender_mac=sha, sender_ip=V4(spa), target_mac=tha, target_ip=V4(tpa))
    assert parse_arp(build_arp(arp)) == arp


SRC6 = V6("fe80::200:5eff:fe00:201")
ALL_NODES = V6("ff02::1")
# RFC 4861 section 4.4, unsolicited NA for 2001:db8::1 from virtual router 1 (R and O set).
NA_HEAD = bytes.fromhex(
    "88"  # type 136
    "00"  # code 0
    "0000"  # checksum (filled in)
    "a0000000"  # R=1 S=0 O=1, reserved
    "20010db8000000000000000000000001"  # target 2001:db8::1
    "02"
    "01"
    "00005e000201"  # option 2 (target link-layer address), 1 x 8 bytes
)


def _na_vector(checksum: Callable[[bytes], int], dst: V6 = ALL_NODES) -> bytes:
    pseudo = SRC6.packed + dst.packed + len(NA_HEAD).to_bytes(4, "big") + bytes((0, 0, 0, 58))
    c = checksum(pseudo + NA_HEAD)
    return NA_HEAD[:2] + c.to_bytes(2, "big") + NA_HEAD[4:]


def test_na_vector(checksum: Callable[[bytes], int]) -> None:
    data = _na_vector(checksum)
    na = parse_na(data, src=SRC6, dst=ALL_NODES)
    assert na.router and na.override and not na.solicited
    assert na.target == V6("2001:db8::1") and na.target_ll_addr == bytes.fromhex("00005e000201")
    assert na.checksum_ok and na.findings(hop_limit=255, dst=ALL_NODES) == ()
    assert unsolicited_na(bytes.fromhex("00005e000201"), V6("2001:db8::1")) == na
    assert build_na(na, src=SRC6, dst=ALL_NODES) == data
    frame = build_ethernet(
        bytes.fromhex("333300000001"),
        bytes.fromhex("00005e000201"),
        0x86DD,
        build_ipv6(IPv6Header(src=SRC6, dst=ALL_NODES, next_header=58), data),
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.kind is Kind.NA and d.message == na and d.findings == ()


def test_na_checks(checksum: Callable[[bytes], int]) -> None:
    data = _na_vector(checksum)
    bad = parse_na(data, src=SRC6, dst=V6("ff02::2"))  # another destination: checksum fails
    assert not bad.checksum_ok
    solicited = NeighborAdvert(target=V6("2001:db8::1"), solicited=True, code=1)
    assert set(solicited.findings(hop_limit=64, dst=ALL_NODES)) == {
        Finding.TTL_NOT_255,
        Finding.BAD_CODE,
        Finding.SOLICITED_TO_MULTICAST,
    }
    assert NeighborAdvert(target=V6("ff02::1")).findings(hop_limit=255, dst=SRC6) == (
        Finding.MULTICAST_TARGET,
    )
    for n in range(24):
        with pytest.raises(Truncated):
            parse_na(data[:n], src=SRC6, dst=ALL_NODES)
    with pytest.raises(Truncated):
        parse_na(data[:-1], src=SRC6, dst=ALL_NODES)
    with pytest.raises(DecodeError, match="length 0"):
        parse_na(data[:25] + b"\x00" + data[26:], src=SRC6, dst=ALL_NODES)
    with pytest.raises(DecodeError, match="not a Neighbor"):
        parse_na(b"\x87" + data[1:], src=SRC6, dst=ALL_NODES)


@given(
    r=st.booleans(),
    s=st.booleans(),
    o=st.booleans(),
    t=st.integers(0, 2**128 - 1),
    ll=st.none() | st.binary(min_size=6, max_size=6),
    others=st.lists(
        st.tuples(
            st.integers(3, 255), st.binary(max_size=30).filter(lambda b: (len(b) + 2) % 8 == 0)
        ),
        max_size=2,
    ),
)
def test_na_roundtrip(
    r: bool, s: bool, o: bool, t: int, ll: bytes | None, others: list[tuple[int, bytes]]
) -> None:
    na = NeighborAdvert(
        target=V6(t),
        router=r,
        solicited=s,
        override=o,
        target_ll_addr=ll,
        other_options=tuple(others),
    )
    back = parse_na(build_na(na, src=SRC6, dst=ALL_NODES), src=SRC6, dst=ALL_NODES)
    assert back == na and back.checksum_ok
