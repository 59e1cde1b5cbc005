"""VRRPv2, VRRPv3 and CARP from byte vectors laid out after the RFC figures."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors.common import DecodeError, Finding, Truncated
from dissectors.vrrp import (
    AuthType,
    CarpPacket,
    ChecksumStatus,
    VrrpV2,
    VrrpV3,
    auth_type_label,
    build_carp,
    build_vrrp,
    looks_like_carp,
    parse_carp,
    parse_vrrp,
    validate_advert,
    virtual_mac,
)

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4, GROUP4 = V4("192.0.2.10"), V4("224.0.0.18")
SRC6, GROUP6 = V6("fe80::1"), V6("ff02::12")

# RFC 3768 section 5.1. Checksum by hand: 0x2101 + 0x6401 + 0x0001 + 0xc000 + 0x0201 = 0x14704,
# folded 0x4705, complemented 0xb8fa.
V2_NONE = bytes.fromhex(
    "21"  # version 2, type 1 (advertisement)
    "01"  # VRID 1
    "64"  # priority 100
    "01"  # count IP addrs 1
    "00"  # auth type 0
    "01"  # adver int 1 s
    "b8fa"  # checksum
    "c0000201"  # 192.0.2.1
    "0000000000000000"  # authentication data
)


def with_checksum(
    head: bytes, body: bytes, checksum: Callable[[bytes], int], pseudo: bytes = b""
) -> bytes:
    """Header (checksum field zero at bytes 6-7) + body, with the reference checksum filled in."""
    c = checksum(pseudo + head + body)
    return head[:6] + c.to_bytes(2, "big") + head[8:] + body


def test_v2_vector() -> None:
    adv = parse_vrrp(V2_NONE, src=SRC4, dst=GROUP4)
    assert isinstance(adv, VrrpV2)
    assert (adv.version, adv.type, adv.vrid, adv.priority, adv.count_ip_addrs) == (2, 1, 1, 100, 1)
    assert adv.auth_type == AuthType.NONE and adv.adver_int_s == 1 and adv.interval_cs == 100
    assert adv.addresses == (V4("192.0.2.1"),)
    assert adv.checksum == 0xB8FA and adv.checksum_status is ChecksumStatus.GOOD
    assert adv.password is None
    mac = bytes.fromhex("00005e000101")
    assert validate_advert(adv, src=SRC4, dst=GROUP4, ttl=255, src_mac=mac) == ()
    assert build_vrrp(adv, src=SRC4, dst=GROUP4) == V2_NONE


def test_v2_simple_password_padding_stripped(checksum: Callable[[bytes], int]) -> None:
    head = bytes.fromhex("212ac80201050000")  # VRID 42, prio 200, 2 addrs, auth 1, 5 s
    body = bytes.fromhex("c000020ac000020b") + b"secret\x00\x00"
    adv = parse_vrrp(with_checksum(head, body, checksum), src=SRC4, dst=GROUP4)
    assert isinstance(adv, VrrpV2)
    assert adv.auth_type == AuthType.SIMPLE and auth_type_label(adv.auth_type) == "simple"
    assert adv.password == b"secret" and adv.auth_data == b"secret\x00\x00"
    assert adv.addresses == (V4("192.0.2.10"), V4("192.0.2.11"))
    assert adv.adver_int_s == 5 and adv.checksum_status is ChecksumStatus.GOOD


def test_v2_unknown_auth_type_kept_as_number(checksum: Callable[[bytes], int]) -> None:
    head = bytes.fromhex("21016401fe010000")  # auth type 254 (Cisco MD5)
    adv = parse_vrrp(
        with_checksum(head, bytes.fromhex("c0000201") + bytes(8), checksum), src=SRC4, dst=GROUP4
    )
    assert adv.auth_type == 254 and auth_type_label(adv.auth_type) == 254
    assert auth_type_label(2) == "ah" and auth_type_label(0) == "none"
    assert adv.password is None


def test_v2_bad_checksum() -> None:
    broken = V2_NONE[:6] + b"\xb8\xfb" + V2_NONE[8:]
    adv = parse_vrrp(broken, src=SRC4, dst=GROUP4)
    assert adv.checksum_status is ChecksumStatus.BAD
    assert Finding.BAD_CHECKSUM in validate_advert(adv, src=SRC4, dst=GROUP4, ttl=255)


def test_v2_prefixes() -> None:
    # Up to the end of the addresses a prefix is truncation. The 8 bytes of authentication data
    # may be missing (PcapPlusPlus' VRRP-V2.pcap omits them with auth type 0): that decodes,
    # with a finding.
    for n in range(12):
        with pytest.raises(Truncated):
            parse_vrrp(V2_NONE[:n], src=SRC4, dst=GROUP4)
    for n in range(12, len(V2_NONE)):
        adv = parse_vrrp(V2_NONE[:n], src=SRC4, dst=GROUP4)
        assert Finding.SHORT_AUTH_DATA in adv.findings()


V3_HEAD4 = bytes.fromhex(
    "31"  # version 3, type 1
    "07"  # VRID 7
    "96"  # priority 150
    "02"  # count 2
    "0064"  # rsvd 0, max adver int 100 cs
    "0000"  # checksum (filled in)
)
V3_BODY4 = bytes.fromhex("c0000201c0000202")


def _pseudo4(src: V4, dst: V4, length: int) -> bytes:
    return src.packed + dst.packed + bytes((0, 112)) + length.to_bytes(2, "big")


def _pseudo6(src: V6, dst: V6, length: int) -> bytes:
    return src.packed + dst.packed + length.to_bytes(4, "big") + bytes((0, 0, 0, 112))


def test_v3_ipv4_with_pseudo_header(checksum: Callable[[bytes], int]) -> None:
    data = with_checksum(V3_HEAD4, V3_BODY4, checksum, _pseudo4(SRC4, GROUP4, 16))
    adv = parse_vrrp(data, src=SRC4, dst=GROUP4)
    assert isinstance(adv, VrrpV3)
    assert (adv.version, adv.vrid, adv.priority, adv.max_adver_int_cs) == (3, 7, 150, 100)
    assert adv.addresses == (V4("192.0.2.1"), V4("192.0.2.2")) and adv.family == 4
    assert adv.checksum_status is ChecksumStatus.GOOD
    assert build_vrrp(adv, src=SRC4, dst=GROUP4) == data


def test_v3_ipv4_without_pseudo_header(checksum: Callable[[bytes], int]) -> None:
    # RFC 9568 section 5.2.8 / Cisco / Juniper: the checksum covers the VRRP message only.
    data = with_checksum(V3_HEAD4, V3_BODY4, checksum)
    adv = parse_vrrp(data, src=SRC4, dst=GROUP4)
    assert adv.checksum_status is ChecksumStatus.GOOD_WITHOUT_PSEUDO_HEADER
    assert Finding.BAD_CHECKSUM not in adv.findings()
    assert build_vrrp(adv, src=SRC4, dst=GROUP4, pseudo_header=False) == data


def test_v3_unicast_destination_in_pseudo_header(checksum: Callable[[bytes], int]) -> None:
    peer = V4("192.0.2.20")
    data = with_checksum(V3_HEAD4, V3_BODY4, checksum, _pseudo4(SRC4, peer, 16))
    adv = parse_vrrp(data, src=SRC4, dst=peer)
    assert adv.checksum_status is ChecksumStatus.GOOD
    assert parse_vrrp(data, src=SRC4, dst=GROUP4).checksum_status is ChecksumStatus.BAD
    found = validate_advert(adv, src=SRC4, dst=peer, ttl=255)
    assert found == (Finding.UNICAST_DESTINATION,)
    assert validate_advert(adv, src=SRC4, dst=V4("224.0.0.19"), ttl=255) == (
        Finding.BAD_DESTINATION,
    )


def test_v3_ipv6(checksum: Callable[[bytes], int]) -> None:
    head = bytes.fromhex("312469010fff0000")  # VRID 36, prio 105, 1 addr, 4095 cs
    body = V6("2001:db8::1").packed
    data = with_checksum(head, body, checksum, _pseudo6(SRC6, GROUP6, 24))
    adv = parse_vrrp(data, src=SRC6, dst=GROUP6)
    assert isinstance(adv, VrrpV3)
    assert adv.family == 6 and adv.addresses == (V6("2001:db8::1"),)
    assert adv.max_adver_int_cs == 0xFFF and adv.checksum_status is ChecksumStatus.GOOD
    mac = bytes.fromhex("00005e000224")
    assert validate_advert(adv, src=SRC6, dst=GROUP6, ttl=255, src_mac=mac) == ()
    # IPv6 has no "without pseudo-header" variant (RFC 5798 section 5.2.8).
    bare = with_checksum(head, body, checksum)
    assert parse_vrrp(bare, src=SRC6, dst=GROUP6).checksum_status is ChecksumStatus.BAD


def test_v3_reserved_bits_are_not_interval(checksum: Callable[[bytes], int]) -> None:
    head = bytes.fromhex("31016401f0640000")  # rsvd 0xf, interval 100 cs
    adv = parse_vrrp(
        with_checksum(head, V3_BODY4[:4], checksum, _pseudo4(SRC4, GROUP4, 12)),
        src=SRC4,
        dst=GROUP4,
    )
    assert isinstance(adv, VrrpV3)
    assert adv.reserved == 0xF and adv.max_adver_int_cs == 100


def test_v3_prefixes_truncated(checksum: Callable[[bytes], int]) -> None:
    data = with_checksum(V3_HEAD4, V3_BODY4, checksum, _pseudo4(SRC4, GROUP4, 16))
    for n in range(len(data)):
        with pytest.raises(Truncated):
            parse_vrrp(data[:n], src=SRC4, dst=GROUP4)
    adv6 = VrrpV3(
        vrid=1,
        priority=1,
        count_ip_addrs=2,
        family=6,
        addresses=(V6("2001:db8::1"), V6("2001:db8::2")),
    )
    data6 = build_vrrp(adv6, src=SRC6, dst=GROUP6)
    assert parse_vrrp(data6, src=SRC6, dst=GROUP6) == adv6
    for n in range(len(data6)):
        with pytest.raises(Truncated):
            parse_vrrp(data6[:n], src=SRC6, dst=GROUP6)


def test_v3_addresses_of_the_other_family(checksum: Callable[[bytes], int]) -> None:
    # Count 2, but 32 bytes of addresses over IPv4: two IPv6 addresses, a family mismatch.
    body = V6("2001:db8::1").packed + V6("2001:db8::2").packed
    data = with_checksum(V3_HEAD4, body, checksum, _pseudo4(SRC4, GROUP4, 40))
    adv = parse_vrrp(data, src=SRC4, dst=GROUP4)
    assert adv.addresses == (V6("2001:db8::1"), V6("2001:db8::2"))
    assert adv.checksum_status is ChecksumStatus.GOOD
    assert validate_advert(adv, src=SRC4, dst=GROUP4, ttl=255) == (Finding.FAMILY_MISMATCH,)
    # IPv4-sized addresses over IPv6 are a prefix of a good packet: truncation.
    head6 = bytes.fromhex("3101640100640000")
    with pytest.raises(Truncated):
        parse_vrrp(head6 + V4("192.0.2.1").packed, src=SRC6, dst=GROUP6)


def test_unknown_version() -> None:
    with pytest.raises(DecodeError, match="version 7"):
        parse_vrrp(b"\x71" + V2_NONE[1:], src=SRC4, dst=GROUP4)


def test_findings_in_context() -> None:
    adv = VrrpV3(
        vrid=5,
        priority=100,
        count_ip_addrs=3,
        max_adver_int_cs=0,
        type=2,
        addresses=(V6("2001:db8::5"),),
    )
    found = validate_advert(adv, src=SRC4, dst=GROUP4, ttl=64, src_mac=b"\x02" * 6)
    assert set(found) == {
        Finding.BAD_TYPE,
        Finding.INTERVAL_ZERO,
        Finding.COUNT_MISMATCH,
        Finding.TTL_NOT_255,
        Finding.FAMILY_MISMATCH,
        Finding.BAD_SOURCE_MAC,
    }
    v2 = VrrpV2(vrid=1, priority=1, count_ip_addrs=1, addresses=(V4("192.0.2.1"),))
    assert Finding.FAMILY_MISMATCH in validate_advert(v2, src=SRC6, dst=GROUP6, ttl=255)


def test_virtual_mac() -> None:
    # RFC 5798 section 7.3
    assert virtual_mac(0x2A, 4) == bytes.fromhex("00005e00012a")
    assert virtual_mac(0x2A, 6) == bytes.fromhex("00005e00022a")


CARP = bytes.fromhex(
    "21"  # version 2, type 1: the same first byte as VRRPv2
    "03"  # vhid 3
    "00"  # advskew 0
    "07"  # authlen 7 (32-bit words after the first 8 bytes)
    "00"  # demotion
    "01"  # advbase 1 s
    "0000"  # checksum (filled in)
    "0102030405060708"  # counter
) + bytes(range(20))  # SHA-1 HMAC


def test_carp(checksum: Callable[[bytes], int]) -> None:
    data = with_checksum(CARP[:8], CARP[8:], checksum)
    assert looks_like_carp(data)
    assert not looks_like_carp(V2_NONE)
    carp = parse_carp(data)
    assert (carp.vhid, carp.advskew, carp.authlen, carp.advbase_s) == (3, 0, 7, 1)
    assert carp.counter == bytes.fromhex("0102030405060708") and carp.hmac == bytes(range(20))
    assert carp.checksum_ok
    assert build_carp(carp) == data
    assert not parse_carp(data[:6] + b"\x00\x00" + data[8:]).checksum_ok
    for n in range(len(data)):
        with pytest.raises(Truncated):
            parse_carp(data[:n])


v4addr = st.builds(V4, st.integers(0, 2**32 - 1))
v6addr = st.builds(V6, st.integers(0, 2**128 - 1))
byte = st.integers(0, 255)


@given(
    vrid=byte,
    prio=byte,
    auth=byte,
    adv_int=byte,
    typ=st.integers(0, 15),
    addrs=st.lists(v4addr, max_size=8),
    auth_data=st.binary(min_size=8, max_size=8),
    count_delta=st.sampled_from([0, 0, 0, 1]),
)
def test_v2_roundtrip(
    vrid: int,
    prio: int,
    auth: int,
    adv_int: int,
    typ: int,
    addrs: list[V4],
    auth_data: bytes,
    count_delta: int,
) -> None:
    adv = VrrpV2(
        type=typ,
        vrid=vrid,
        priority=prio,
        count_ip_addrs=len(addrs),
        auth_type=auth,
        adver_int_s=adv_int,
        addresses=tuple(addrs),
        auth_data=auth_data,
    )
    data = build_vrrp(adv, src=SRC4, dst=GROUP4)
    back = parse_vrrp(data, src=SRC4, dst=GROUP4)
    assert back == adv and back.checksum_status is ChecksumStatus.GOOD


@given(
    vrid=byte,
    prio=byte,
    rsvd=st.integers(0, 15),
    interval=st.integers(0, 0xFFF),
    six=st.booleans(),
    data=st.data(),
    unicast=st.booleans(),
    pseudo=st.booleans(),
)
def test_v3_roundtrip(
    vrid: int,
    prio: int,
    rsvd: int,
    interval: int,
    six: bool,
    data: st.DataObject,
    unicast: bool,
    pseudo: bool,
) -> None:
    addrs = tuple(data.draw(st.lists(v6addr if six else v4addr, max_size=6)))
    src: V4 | V6 = SRC6 if six else SRC4
    dst: V4 | V6 = (
        (V6("2001:db8::9") if six else V4("198.51.100.9"))
        if unicast
        else (GROUP6 if six else GROUP4)
    )
    adv = VrrpV3(
        vrid=vrid,
        priority=prio,
        count_ip_addrs=len(addrs),
        reserved=rsvd,
        max_adver_int_cs=interval,
        addresses=addrs,
        family=6 if six else 4,
    )
    raw = build_vrrp(adv, src=src, dst=dst, pseudo_header=pseudo)
    back = parse_vrrp(raw, src=src, dst=dst)
    assert back == adv
    expected = ChecksumStatus.GOOD
    if not pseudo and not six:
        expected = ChecksumStatus.GOOD_WITHOUT_PSEUDO_HEADER
    # A message whose sum is the same either way verifies with the pseudo-header first.
    assert back.checksum_status in (expected, ChecksumStatus.GOOD)


@given(
    vhid=byte,
    skew=byte,
    demote=byte,
    base=byte,
    counter=st.binary(min_size=8, max_size=8),
    md=st.binary(min_size=20, max_size=20),
)
def test_carp_roundtrip(
    vhid: int, skew: int, demote: int, base: int, counter: bytes, md: bytes
) -> None:
    carp = CarpPacket(
        vhid=vhid, advskew=skew, demotion=demote, advbase_s=base, counter=counter, hmac=md
    )
    assert parse_carp(build_carp(carp)) == carp
