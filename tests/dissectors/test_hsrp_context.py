"""HSRP in its context: the findings (alone and against the IP and UDP headers), the virtual
MACs, the UDP parser HSRP travels in, and scapy's HSRP layer as an independent check."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.hsrp import HSRP, HSRPmd5

from dissectors.common import DecodeError, Finding, Truncated
from dissectors.hsrp import (
    AdvertState,
    GroupState,
    HsrpMessage,
    HsrpV1,
    HsrpV1Advert,
    HsrpV2,
    Md5Auth,
    OpCode,
    V1State,
    V2State,
    build_hsrp,
    parse_hsrp,
    validate_hsrp,
    virtual_mac,
)
from dissectors.ip import IPPROTO_UDP, UdpHeader, build_udp, parse_udp, pseudo_header

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4, SRC6 = V4("192.0.2.10"), V6("fe80::1")
V1_GROUP, V2_GROUP4, V2_GROUP6 = V4("224.0.0.2"), V4("224.0.0.102"), V6("ff02::66")
# HSRP_coup.pcap frame 1 and tests/crafted.py's resign (test_hsrp.py lays them out).
V1_HELLO = bytes.fromhex("00001003 0a640100 636973636f000000 c0a80001".replace(" ", ""))
V2_RESIGN = bytes.fromhex(
    "012802020604000102000000000a0000009600000bb800002710c00002fe000000000000000000000000"
    "0308636973636f000000"
)
GS6 = GroupState(
    state=V2State.STANDBY,
    ip_version=6,
    group=4095,
    identifier=bytes(6),
    priority=0xFFFFFFFF,
    virtual_ip_address=V6("2001:db8::1"),
    virtual_ip_padding=b"",
)
GS_ODD = GroupState(
    version=3,
    op_code=9,
    state=77,
    ip_version=5,
    group=7,
    identifier=b"abcdef",
    virtual_ip_address=None,
    virtual_ip_padding=bytes(range(16)),
)


# --- findings --------------------------------------------------------------------------------


def _v1(**kw: object) -> HsrpV1:
    return HsrpV1(**{"state": V1State.ACTIVE, "group": 1, "virtual_ip_address": SRC4, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("msg", "want"),
    [
        (_v1(), ()),
        (_v1(version=1), (Finding.BAD_VERSION,)),
        (_v1(state=3), (Finding.BAD_STATE,)),
        (_v1(hellotime_s=10, holdtime_s=10), (Finding.HOLD_NOT_ABOVE_HELLO,)),
        (_v1(hellotime_s=0, holdtime_s=10), (Finding.INTERVAL_ZERO,)),
        (_v1(hellotime_s=5, holdtime_s=0), (Finding.HOLD_NOT_ABOVE_HELLO,)),
        # Timers mean something in hellos only (RFC 2281 section 5.1).
        (_v1(op_code=OpCode.COUP, hellotime_s=10, holdtime_s=1), ()),
        (HsrpV1Advert(state=AdvertState.ACTIVE, active_groups=1, passive_groups=0), ()),
        (
            HsrpV1Advert(state=0, length=15, active_groups=1, passive_groups=0),
            (Finding.BAD_STATE, Finding.COUNT_MISMATCH),
        ),
        (
            HsrpV2(tlvs=(GS_ODD,)),
            (Finding.BAD_VERSION, Finding.BAD_TYPE, Finding.BAD_STATE, Finding.FAMILY_MISMATCH),
        ),
        (HsrpV2(tlvs=(GS6, GS6)), ()),
    ],
)
def test_message_findings(msg: HsrpMessage, want: tuple[Finding, ...]) -> None:
    assert msg.findings() == want


def test_context_findings_v1() -> None:
    msg = _v1()
    ok = {"src": SRC4, "dst": V1_GROUP, "ttl": 1, "src_port": 1985, "dst_port": 1985}
    assert validate_hsrp(msg, **ok) == ()  # type: ignore[arg-type]
    assert validate_hsrp(msg, **{**ok, "ttl": 255}) == (Finding.TTL_NOT_1,)  # type: ignore[arg-type]
    assert validate_hsrp(msg, **{**ok, "dst": V2_GROUP4}) == (Finding.BAD_DESTINATION,)  # type: ignore[arg-type]
    assert validate_hsrp(msg, **{**ok, "dst": V4("192.0.2.1")}) == (  # type: ignore[arg-type]
        Finding.UNICAST_DESTINATION,
    )
    assert validate_hsrp(msg, **{**ok, "src_port": 40000}) == (Finding.BAD_PORT,)  # type: ignore[arg-type]


def test_context_findings_v2() -> None:
    v4 = parse_hsrp(V2_RESIGN, family=4, dst_port=1985)
    ok = {"src": SRC4, "dst": V2_GROUP4, "src_port": 1985, "dst_port": 1985}
    # No TTL rule for HSRPv2: hsrp2.pcap (a real network) sends TTL 255, others TTL 1.
    for ttl in (1, 255):
        assert validate_hsrp(v4, ttl=ttl, **ok) == ()  # type: ignore[arg-type]
    assert validate_hsrp(v4, ttl=1, **{**ok, "dst": V1_GROUP}) == (Finding.BAD_DESTINATION,)  # type: ignore[arg-type]
    v6 = HsrpV2(tlvs=(GS6,))
    assert validate_hsrp(v6, src=SRC4, dst=V2_GROUP4, ttl=1, src_port=1985, dst_port=1985) == (
        Finding.FAMILY_MISMATCH,
    )
    assert validate_hsrp(v6, src=SRC6, dst=V2_GROUP6, ttl=255, src_port=1985, dst_port=2029) == (
        Finding.BAD_PORT,
    )


def test_virtual_macs() -> None:
    assert virtual_mac(1, protocol_version=1).hex() == "00000c07ac01"
    assert virtual_mac(255, protocol_version=1).hex() == "00000c07acff"
    assert virtual_mac(1, protocol_version=2).hex() == "00000c9ff001"
    assert virtual_mac(4095, protocol_version=2).hex() == "00000c9fffff"
    assert virtual_mac(16, protocol_version=2, family=6).hex() == "000573a00010"


# --- UDP (dissectors/ip.py) ------------------------------------------------------------------


def test_udp_round_trip_and_checksum(checksum: Callable[[bytes], int]) -> None:
    for src, dst in ((SRC4, V1_GROUP), (SRC6, V2_GROUP6)):
        datagram = build_udp(UdpHeader(src_port=1985, dst_port=1985), V1_HELLO, src=src, dst=dst)
        assert checksum(pseudo_header(src, dst, IPPROTO_UDP, len(datagram)) + datagram) == 0
        udp, payload = parse_udp(datagram + b"pad", src=src, dst=dst)
        assert payload == V1_HELLO and udp == UdpHeader(src_port=1985, dst_port=1985)
        assert udp.length == 28 and udp.checksum_ok is True
        broken = datagram[:-1] + bytes((datagram[-1] ^ 1,))
        assert parse_udp(broken, src=src, dst=dst)[0].checksum_ok is False
    datagram = build_udp(UdpHeader(src_port=1985, dst_port=1985), b"", src=SRC4, dst=V1_GROUP)
    no_sum = datagram[:6] + b"\0\0"
    assert parse_udp(no_sum, src=SRC4, dst=V1_GROUP)[0].checksum_ok is None


def test_udp_errors() -> None:
    datagram = build_udp(UdpHeader(src_port=1, dst_port=2), b"abc", src=SRC4, dst=V1_GROUP)
    for n in range(len(datagram)):
        with pytest.raises(Truncated):
            parse_udp(datagram[:n], src=SRC4, dst=V1_GROUP)
    with pytest.raises(DecodeError, match="length 7 below 8"):
        parse_udp(datagram[:4] + b"\x00\x07" + datagram[6:], src=SRC4, dst=V1_GROUP)


# --- scapy's HSRP layer as an independent check (it knows HSRPv1 and the MD5 TLV) ------------


@settings(max_examples=40, deadline=None)  # scapy builds slowly under load
@given(
    op=st.sampled_from([0, 1, 2]),
    state=st.sampled_from(list(V1State)),
    head=st.binary(min_size=4, max_size=4),
    auth=st.binary(min_size=1, max_size=8).filter(lambda b: b[-1:] != b"\0"),
    vip=st.ip_addresses(v=4),
    md5=st.none() | st.tuples(st.integers(0, 0xFFFFFFFF), st.binary(min_size=16, max_size=16)),
)
def test_scapy_reads_what_we_build_and_we_read_what_it_builds(
    op: int,
    state: int,
    head: bytes,
    auth: bytes,
    vip: V4,
    md5: tuple[int, bytes] | None,
) -> None:
    hello, hold, prio, group = head
    tlvs = (
        ()
        if md5 is None
        else (Md5Auth(ip_address=SRC4, key_id=md5[0], authentication_data=md5[1]),)
    )
    ours = HsrpV1(
        op_code=op,
        state=state,
        hellotime_s=hello,
        holdtime_s=hold,
        priority=prio,
        group=group,
        authentication_data=auth.ljust(8, b"\0"),
        virtual_ip_address=vip,
        tlvs=tlvs,
    )
    theirs = HSRP(
        opcode=op,
        state=state,
        hellotime=hello,
        holdtime=hold,
        priority=prio,
        group=group,
        auth=auth,
        virtualIP=str(vip),
    )
    if md5 is not None:
        theirs = theirs / HSRPmd5(algo=1, sourceip=str(SRC4), keyid=md5[0], authdigest=md5[1])
    assert bytes(theirs) == build_hsrp(ours)
    assert parse_hsrp(bytes(theirs), family=4, dst_port=1985) == ours
    back = HSRP(build_hsrp(ours))
    assert (back.opcode, back.state, back.priority, back.group) == (op, state, prio, group)
    assert back.virtualIP == str(vip) and back.auth.rstrip(b"\0") == auth
    if md5 is not None:
        # scapy binds HSRPmd5 only under a UDP length above 28; alone, the TLV is its payload.
        tail = HSRPmd5(bytes(back.payload))
        assert (tail.keyid, tail.authdigest, tail.sourceip) == (md5[0], md5[1], str(SRC4))
