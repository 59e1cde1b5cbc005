"""Link layers, IPv4/IPv6/AH and decode_packet's dispatch, from annotated byte vectors."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors.common import DecodeError, Finding, Truncated
from dissectors.frame import LinkType, build_ethernet, format_mac, parse_link, parse_mac
from dissectors.ip import (
    AuthHeader,
    IPv4Header,
    IPv6Header,
    build_ah,
    build_ipv4,
    build_ipv6,
    parse_ah,
    parse_ipv4,
    parse_ipv6,
)
from dissectors.packet import Kind, decode_packet
from dissectors.vrrp import ChecksumStatus, VrrpV2, VrrpV3, build_vrrp

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4, GROUP4 = V4("192.0.2.10"), V4("224.0.0.18")
SRC6, GROUP6 = V6("fe80::1"), V6("ff02::12")
VMAC = bytes.fromhex("00005e000101")
MCAST_MAC = bytes.fromhex("01005e000012")

# RFC 791 section 3.1 header for a 40-byte VRRP datagram: 20 + 20 bytes.
IPV4_HEADER = bytes.fromhex(
    "45"  # version 4, IHL 5
    "c0"  # TOS (precedence 6, as keepalived sends)
    "0028"  # total length 40
    "0000"  # identification
    "0000"  # flags, fragment offset
    "ff"  # TTL 255
    "70"  # protocol 112
    "0000"  # header checksum (filled in below)
    "c000020a"  # 192.0.2.10
    "e0000012"  # 224.0.0.18
)


def advert_v2(vrid: int = 1) -> bytes:
    adv = VrrpV2(vrid=vrid, priority=100, count_ip_addrs=1, addresses=(V4("192.0.2.1"),))
    return build_vrrp(adv, src=SRC4, dst=GROUP4)


def ip4(payload: bytes, **kw: object) -> bytes:
    fields: dict[str, object] = {"src": SRC4, "dst": GROUP4, "protocol": 112} | kw
    return build_ipv4(IPv4Header(**fields), payload)  # type: ignore[arg-type]


def test_ipv4_vector(checksum) -> None:  # type: ignore[no-untyped-def]
    c = checksum(IPV4_HEADER)
    vector = IPV4_HEADER[:10] + c.to_bytes(2, "big") + IPV4_HEADER[12:]
    payload = advert_v2()
    assert build_ipv4(IPv4Header(src=SRC4, dst=GROUP4, protocol=112, tos=0xC0), payload) == (
        vector + payload
    )
    header, rest = parse_ipv4(vector + payload + b"\x00" * 6)  # Ethernet padding dropped
    assert rest == payload
    assert (header.ttl, header.hop_limit, header.family, header.protocol) == (255, 255, 4, 112)
    assert header.checksum_ok and not header.is_fragment and header.total_length == 40


def test_ipv4_errors() -> None:
    good = ip4(advert_v2())
    for n in range(len(good)):
        with pytest.raises(Truncated):
            parse_ipv4(good[:n])
    with pytest.raises(DecodeError, match="version"):
        parse_ipv4(b"\x65" + good[1:])
    with pytest.raises(DecodeError, match="header length"):
        parse_ipv4(b"\x44" + good[1:])
    with pytest.raises(DecodeError, match="total length"):
        parse_ipv4(good[:2] + b"\x00\x10" + good[4:])


@given(
    ttl=st.integers(0, 255),
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    df=st.booleans(),
    mf=st.booleans(),
    off=st.integers(0, 0x1FFF),
    options=st.binary(max_size=40).map(lambda b: b + b"\x00" * (-len(b) % 4)),
    payload=st.binary(max_size=64),
)
def test_ipv4_roundtrip(
    ttl: int, tos: int, ident: int, df: bool, mf: bool, off: int, options: bytes, payload: bytes
) -> None:
    h = IPv4Header(
        src=SRC4,
        dst=GROUP4,
        protocol=112,
        ttl=ttl,
        tos=tos,
        identification=ident,
        dont_fragment=df,
        more_fragments=mf,
        fragment_offset=off,
        options=options,
    )
    back, rest = parse_ipv4(build_ipv4(h, payload))
    assert back == h and rest == payload and back.checksum_ok


@given(
    hlim=st.integers(0, 255),
    tc=st.integers(0, 255),
    fl=st.integers(0, 0xFFFFF),
    payload=st.binary(max_size=64),
)
def test_ipv6_roundtrip(hlim: int, tc: int, fl: int, payload: bytes) -> None:
    h = IPv6Header(
        src=SRC6, dst=GROUP6, next_header=112, hop_limit=hlim, traffic_class=tc, flow_label=fl
    )
    back, rest = parse_ipv6(build_ipv6(h, payload))
    assert back == h and rest == payload and back.ttl == hlim and back.family == 6


def test_ipv6_extension_headers_walked() -> None:
    adv = VrrpV3(vrid=9, priority=100, count_ip_addrs=1, addresses=(V6("2001:db8::9"),), family=6)
    vrrp = build_vrrp(adv, src=SRC6, dst=GROUP6)
    # RFC 8200 section 4.3: Hop-by-Hop (next 60, length 0, PadN), then section 4.6:
    # Destination Options (next 112, length 0, PadN).
    hbh = bytes.fromhex("3c00010400000000")
    dst_opts = bytes.fromhex("7000010400000000")
    h = IPv6Header(src=SRC6, dst=GROUP6, next_header=0)
    frame = build_ethernet(
        bytes.fromhex("333300000012"),
        bytes.fromhex("00005e000209"),
        0x86DD,
        build_ipv6(h, hbh + dst_opts + vrrp),
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.kind is Kind.VRRP
    assert isinstance(d.ip, IPv6Header) and d.ip.extension_headers == (0, 60)
    assert d.message == adv and d.findings == ()
    # A first fragment (offset 0, M set) is decoded and flagged; a later one is an error.
    frag = bytes.fromhex("7000000112345678")
    first = build_ipv6(IPv6Header(src=SRC6, dst=GROUP6, next_header=44), frag + vrrp)
    d = decode_packet(first, LinkType.RAW)
    assert d is not None and Finding.FRAGMENTED in d.findings
    later = bytes.fromhex("7000001112345678")
    with pytest.raises(DecodeError, match="fragment"):
        decode_packet(
            build_ipv6(IPv6Header(src=SRC6, dst=GROUP6, next_header=44), later + vrrp), LinkType.RAW
        )
    # Extension headers in front of something else: not ours.
    tcp = bytes.fromhex("0600010400000000") + bytes(20)
    assert decode_packet(build_ipv6(h, tcp), LinkType.RAW) is None


def test_ah_wrapping_vrrpv2() -> None:
    # RFC 4302 section 2: next header 112, payload length 4 (6 words: 12 bytes + 12-byte ICV),
    # reserved, SPI, sequence number, ICV.
    ah_bytes = bytes.fromhex("70040000000010000000002a") + bytes(range(12))
    ah, rest = parse_ah(ah_bytes + b"xyz")
    assert (ah.next_header, ah.spi, ah.sequence, ah.icv) == (112, 0x1000, 42, bytes(range(12)))
    assert rest == b"xyz" and build_ah(ah, b"xyz") == ah_bytes + b"xyz"
    adv = VrrpV2(vrid=1, priority=100, count_ip_addrs=1, auth_type=2, addresses=(V4("192.0.2.1"),))
    frame = build_ethernet(
        MCAST_MAC, VMAC, 0x0800, ip4(ah_bytes + build_vrrp(adv, src=SRC4, dst=GROUP4), protocol=51)
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.kind is Kind.VRRP and d.ah == ah
    assert d.message == adv and d.findings == ()
    # AH around anything else is not ours; a broken AH around ours is an error.
    other = AuthHeader(next_header=6, spi=1, sequence=1, icv=bytes(12))
    assert decode_packet(ip4(build_ah(other, bytes(20)), protocol=51), LinkType.IPV4) is None
    with pytest.raises(DecodeError):
        parse_ah(bytes.fromhex("7000") + bytes(10))
    for n in range(len(ah_bytes)):
        with pytest.raises(Truncated):
            parse_ah(ah_bytes[:n])


def test_vlans_outermost_first_qinq() -> None:
    payload = ip4(advert_v2())
    frame = (
        MCAST_MAC
        + VMAC
        + bytes.fromhex("88a80064")  # 802.1ad S-tag, VLAN 100
        + bytes.fromhex("8100e00a")  # 802.1Q C-tag, PCP 7, VLAN 10
        + bytes.fromhex("0800")
        + payload
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.link.vlans == (100, 10)
    assert d.link.src_mac == VMAC and d.link.dst_mac == MCAST_MAC and d.findings == ()
    assert build_ethernet(MCAST_MAC, VMAC, 0x0800, payload, vlans=(5,))[12:16] == bytes.fromhex(
        "81000005"
    )
    for n in range(12, 22):
        assert decode_packet(frame[:n], LinkType.ETHERNET) is None  # runts: not known to be ours


def test_pbb_inner_macs() -> None:
    # 802.1Q B-tag VLAN 2003, 802.1ah I-TAG (I-SID 0x1ebb3b), then the customer frame.
    inner = MCAST_MAC + bytes.fromhex("00005e000133") + bytes.fromhex("0800")
    adv = VrrpV2(vrid=0x33, priority=200, count_ip_addrs=1, addresses=(V4("192.0.2.1"),))
    frame = (
        bytes.fromhex("c3003a1ebb3b02cccc003a00810007d388e7001ebb3b")
        + inner
        + ip4(build_vrrp(adv, src=SRC4, dst=GROUP4))
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None and d.link.vlans == (2003,)
    assert d.link.src_mac == bytes.fromhex("00005e000133") and d.findings == ()


def test_linux_cooked() -> None:
    payload = ip4(advert_v2())
    # SLL: packet type 2 (multicast), ARPHRD_ETHER, address length 6, address + 2 pad, protocol.
    sll = bytes.fromhex("000200010006") + VMAC + b"\x00\x00" + bytes.fromhex("0800")
    d = decode_packet(sll + payload, LinkType.LINUX_SLL)
    assert d is not None and d.link.src_mac == VMAC and d.link.dst_mac is None and d.findings == ()
    # SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address.
    sll2 = bytes.fromhex("080000000000000300010206") + VMAC + b"\x00\x00"
    d = decode_packet(sll2 + payload, LinkType.LINUX_SLL2)
    assert d is not None and d.link.src_mac == VMAC and d.kind is Kind.VRRP
    # A VLAN tag left in an SLL frame is walked too.
    tagged = sll[:14] + bytes.fromhex("810000070800") + payload
    d = decode_packet(tagged, LinkType.LINUX_SLL)
    assert d is not None and d.link.vlans == (7,)


def test_raw_and_loopback_link_types() -> None:
    payload = ip4(advert_v2())
    for lt, head in [
        (LinkType.RAW, b""),
        (LinkType.IPV4, b""),
        (LinkType.NULL, (2).to_bytes(4, "little")),
        (LinkType.NULL, (2).to_bytes(4, "big")),
        (LinkType.LOOP, (2).to_bytes(4, "big")),
    ]:
        d = decode_packet(head + payload, lt)
        assert d is not None and d.kind is Kind.VRRP, lt
        assert d.link.src_mac is None
        # Without a MAC there is nothing to compare with the virtual MAC.
        assert Finding.BAD_SOURCE_MAC not in d.findings


def test_frame_relay() -> None:
    payload = ip4(advert_v2())
    # Q.922 2-byte address (EA set in the second octet), then a Cisco EtherType ...
    d = decode_packet(bytes.fromhex("0c210800") + payload, LinkType.FRELAY)
    assert d is not None and d.kind is Kind.VRRP
    # ... or RFC 2427: UI control 0x03, NLPID 0xcc (IPv4).
    d = decode_packet(bytes.fromhex("0c2103cc") + payload, LinkType.FRELAY)
    assert d is not None and d.kind is Kind.VRRP


def test_unsupported_link_type_is_not_ours() -> None:
    assert decode_packet(ip4(advert_v2()), 147) is None
    with pytest.raises(DecodeError, match="link type"):
        parse_link(b"\x00" * 40, 147)


def test_ip_level_findings() -> None:
    frame = build_ethernet(
        MCAST_MAC, b"\x02" * 6, 0x0800, ip4(advert_v2(), ttl=64, options=b"\x94\x04\x00\x00")
    )
    d = decode_packet(frame, LinkType.ETHERNET)
    assert d is not None
    assert set(d.findings) == {Finding.TTL_NOT_255, Finding.BAD_SOURCE_MAC, Finding.IP_OPTIONS}
    d = decode_packet(ip4(advert_v2(), more_fragments=True), LinkType.RAW)
    assert d is not None and d.findings == (Finding.FRAGMENTED,)
    # The first fragment: the checksum cannot be verified, and the addresses present are kept
    # even when the fragment ends inside the list (as Wireshark does without reassembly).
    assert isinstance(d.message, VrrpV2)
    assert d.message.checksum_status is ChecksumStatus.UNVERIFIED
    three = VrrpV3(
        vrid=1,
        priority=100,
        count_ip_addrs=3,
        addresses=(V4("192.0.2.1"), V4("192.0.2.2"), V4("192.0.2.3")),
    )
    cut = build_vrrp(three, src=SRC4, dst=GROUP4)[:18]
    d = decode_packet(ip4(cut, more_fragments=True), LinkType.RAW)
    assert d is not None and isinstance(d.message, VrrpV3)
    assert d.message.addresses == (V4("192.0.2.1"), V4("192.0.2.2"))
    assert d.findings == (Finding.FRAGMENTED,)
    with pytest.raises(Truncated):
        decode_packet(ip4(cut), LinkType.RAW)  # the same bytes unfragmented are truncated
    with pytest.raises(DecodeError, match="fragment"):
        decode_packet(ip4(advert_v2(), fragment_offset=3), LinkType.RAW)
    d = decode_packet(ip4(advert_v2(), dst=V4("198.51.100.1")), LinkType.RAW)
    assert d is not None and d.findings == (Finding.UNICAST_DESTINATION,)


def test_not_ours_is_none() -> None:
    tcp = ip4(bytes(20), protocol=6)
    assert decode_packet(build_ethernet(MCAST_MAC, VMAC, 0x0800, tcp), LinkType.ETHERNET) is None
    assert decode_packet(tcp, LinkType.RAW) is None
    assert decode_packet(b"", LinkType.RAW) is None
    lldp = build_ethernet(MCAST_MAC, VMAC, 0x88CC, bytes(40))
    assert decode_packet(lldp, LinkType.ETHERNET) is None
    # ICMPv6 that is not a Neighbor Advertisement (here a Neighbor Solicitation, type 135).
    ns = build_ipv6(IPv6Header(src=SRC6, dst=GROUP6, next_header=58), b"\x87" + bytes(23))
    assert decode_packet(build_ethernet(MCAST_MAC, VMAC, 0x86DD, ns), LinkType.ETHERNET) is None


def test_checksum_status_survives_decode_packet() -> None:
    adv = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, addresses=(V4("192.0.2.1"),))
    raw = build_vrrp(adv, src=SRC4, dst=GROUP4, pseudo_header=False)
    d = decode_packet(build_ethernet(MCAST_MAC, VMAC, 0x0800, ip4(raw)), LinkType.ETHERNET)
    assert d is not None and isinstance(d.message, VrrpV3)
    assert d.message.checksum_status is ChecksumStatus.GOOD_WITHOUT_PSEUDO_HEADER


def test_mac_text() -> None:
    assert format_mac(VMAC) == "00:00:5e:00:01:01"
    assert parse_mac("00-00-5E-00-01-01") == VMAC
    with pytest.raises(ValueError):
        parse_mac("00:00:5e:00:01")
